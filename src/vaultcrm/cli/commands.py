"""The table of top-level commands: which cli module registers each, and its one-line help.

A command's module is imported only when that command runs (or when its own `--help` is asked), so
`vaultcrm --help` and a command on a small vault do not pay for importing every feature. Registering a
new command is one row here: `"name": (("module",), "一行说明")`, where the module (`cli/module.py`)
registers the command on `base.app` as usual. The help shown in `vaultcrm --help` comes from this row;
`tests/test_cli_lazy.py` checks that it is the command's own first help paragraph. An empty help is a
hidden command (one that git, not a person, runs).
"""

from __future__ import annotations

#: name → (cli modules that register it, in import order; its help's first paragraph), in `--help` order.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "check": (("check",), "检查库中所有笔记：语法、取值、重复编号。有错误时退出码为 1。"),
    "init": (("init",), "初始化库：创建目录、示例配置 vaultcrm.yaml、服务追踪表与 Obsidian 视图（预约.base、客户.base、"
                        "跟进.base）；已有文件不会被覆盖。"),
    "stats": (("stats",), "更新统计笔记（日报、月报、服务追踪表的统计区块），只改有变化的；或用 --date/--month 输出统计数据。"),
    "report": (("report",), "月度报表：技师业绩与提成、服务项目排行、客户分群/RFM/复购率/留存率、营销活动效果，连锁的各门店对比（stores）。"),
    "book": (("booking",), "新建预约：检查时间冲突、营业与技师工作时间、过敏与禁忌、爽约次数，打印新的预约编号；--repeat/--times 约一个疗程。"),
    "status": (("booking",), "修改预约状态（待服务 → 已确认 → 服务中 → 已完成 …），并记入 预约状态.状态更新。"),
    "reschedule": (("booking",), "预约改期：重新检查冲突（不含该预约自身），并记入 预约状态.状态更新；只给 --time 时日期不变。"),
    "free": (("agenda",), "查可预约时间：按 10 分钟一格，列出能做该项目的技师与房间，最早的在前；列出的时间 book 一定能约上。"),
    "agenda": (("agenda",), "当天排班看板：每位技师一条时间线，列出预约（客户、项目、房间、状态）和空闲时段，标出冲突与超订的房间。"),
    "waitlist": (("waitlist",), "候补名单：客户想约的时间已满时登记候补，有人取消或改期时提示可约。"),
    "leave": (("leave",), "登记技师请假（记为 请假/ 下的笔记）：期间不再给该技师排预约；列出受影响的预约与可接的同事，--reassign 改派。"),
    "log": (("log",), "记录一次服务：写入服务记录（SRV），完成预约，安排回访，更新服务日志；打印新的服务编号。"),
    "watch": (("watch",), "监视库中的笔记：保存后一秒内自动更新受影响的日报、月报和服务追踪表的统计区块。"),
    "restore": (("backup",), "从备份恢复笔记：先列出将覆盖与新增的文件并确认，再为当前状态做一次安全备份，然后逐个文件原子写入。"),
    "purge": (("privacy",), "按保留期限注销长期未到店的客户（匿名化，同 customer forget）；统计数字不变。"),
    "export": (("export",), "导出：CSV 表格（Excel 可直接打开）或 iCalendar 日历订阅（.ics）。"),
    "customer": (("customer",), "客户档案：查看、列表、修改、分群标签、积分与套餐。"),
    "import": (("imports",), "导入：把已有的客户名单（CSV / Excel）建成客户档案。"),
    "follow": (("follow",), "回访跟进：安排、列出、完成、取消。"),
    "remind": (("remind",), "提醒：列出到期的提醒并记入当天的提醒笔记；--send 发送；done 手动完成。"),
    "campaign": (("campaign",), "精准营销：按客户分群建活动、发优惠券（只发给同意营销的客户）；send 补发；birthday 生日关怀常设活动。"),
    "backup": (("backup",), "备份库中的笔记与 vaultcrm.yaml（.vaultcrm/backups/ 下按日期命名的 zip），并按天轮换。"),
    "sync": (("sync",), "连锁门店同步：提交本店的修改，从总部仓库拉取（rebase）并上传；笔记按字段合并，冲突取较新的修改并列出。可由 cron 定时运行。"),
    "merge-driver": (("sync",), ""),  # hidden: what git runs for a note both sides changed
}

#: group → {subcommand: the cli module that registers it}, for subcommands registered outside the group's
#: own module: imported only when one of them runs (or for the group's `--help`).
SUBCOMMANDS: dict[str, dict[str, str]] = {
    "customer": {"edit": "membership", "points": "membership", "package": "membership", "forget": "privacy",
                 "merge": "sync"},
}
