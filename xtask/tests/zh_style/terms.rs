//! The Chinese edition's terms: for each concept, the variants a page must not use and the term
//! the book uses instead. Read by `xtask/tests/zh_style.rs`; a new row names a variant found in a
//! page, and the glossary (`book/zh/src/glossary.md`) gives the preferred term as its first form.

/// Variants a page must not use, and the term the book uses instead (matched outside code, as
/// written).
pub const TERMS: &[(&str, &str)] = &[
    ("User 命名空间", "用户命名空间"),
    ("user 命名空间", "用户命名空间"),
    ("Mount 命名空间", "挂载命名空间"),
    ("mount 命名空间", "挂载命名空间"),
    ("Network 命名空间", "网络命名空间"),
    ("network 命名空间", "网络命名空间"),
    ("Net 命名空间", "网络命名空间"),
    ("net 命名空间", "网络命名空间"),
    ("Time 命名空间", "时间命名空间"),
    ("time 命名空间", "时间命名空间"),
    ("Cgroup 命名空间", "cgroup 命名空间"),
    ("用户映射", "ID 映射"),
    ("步骤 0", "第 0N 步"),
    ("第01步", "第 01 步（数字两边各一个空格）"),
    ("一次性的命名空间", "用完即弃的命名空间"),
    ("一次性命名空间", "用完即弃的命名空间"),
    ("抛弃式", "用完即弃"),
    ("叙述信息", "旁白"),
    ("过程说明", "旁白"),
    ("输出记录", "运行记录"),
    ("运行实录", "运行记录"),
    ("转录", "运行记录"),
    ("漂移检查", "漂移测试"),
    ("drift 测试", "漂移测试"),
    ("接口序号", "接口索引"),
    ("接口编号", "接口索引"),
    ("PID 为 1 的进程", "1 号进程"),
    ("讲师", "教师"),
    ("性能测试", "基准测试"),
    ("可能出的问题", "可能出的错"),
    ("可能出什么错", "可能出的错"),
    ("运行示例", "运行一次"),
    ("lifeline", "生命线"),
    ("这一步的程序", "本程序"),
    ("这一步程序", "本程序"),
    ("本步", "这一步（这一课），或本程序（这一步的程序）"),
    ("竞争条件", "竞态"),
    ("veth 设备对", "一对虚拟网卡"),
    ("1 号进程", "PID 1"),
    ("前提：", "要求："),
    ("演示记录", "运行记录"),
    ("权能", "能力"),
    ("限制集", "边界集"),
    ("掩蔽路径", "屏蔽路径"),
    ("遮蔽路径", "屏蔽路径"),
];

/// The page whose table names each term in English too, and its other names in parentheses
/// (`PID 1（1 号进程）`): only its first column, without what is in （）, must use the terms.
pub const GLOSSARY: &str = "glossary.md";
