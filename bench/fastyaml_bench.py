"""Time vaultcrm.vault.fastyaml.parse() against yaml.CSafeLoader on filled template frontmatters.

Run: PYTHONPATH=src python3 bench/fastyaml_bench.py [--rounds N]
Target: parse() takes at most 1/3 of CSafeLoader's time per note.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from vaultcrm.vault.fastyaml import parse  # noqa: E402

APP = """预约编号: APP-2026-001
预约信息:
  客户姓名: 张三
  客户编号: "[[C-0001 张三]]"
  联系方式: '13800138000'
  预约日期: 2026-02-12
  预约时间: '14:00'
  预约渠道: 电话

服务信息:
  服务项目: 耳穴调理
  服务时长: 30分钟
  预计费用: ¥198
  技师安排: 技师A

特殊要求:
  偏好技师: 技师A
  力度要求: 中
  其他需求: 对精油过敏

预约状态:
  创建时间: '2026-02-11 10:00'
  创建人: 前台
  当前状态: 已确认
  状态更新:
    - '2026-02-11 10:00 创建 → 待服务 (前台)'
    - '2026-02-12 09:30 待服务 → 已确认 (前台)'
"""

SRV = """服务编号: SRV-2026-001
服务基本信息:
  服务日期: 2026-02-11
  服务时间: '14:00-14:30'
  服务时长: 30分钟
  服务地点: 房间A

客户信息:
  客户姓名: 张三
  客户编号: "[[C-0001 张三]]"
  联系方式: '13800138000'

服务信息:
  服务项目: 耳穴调理
  服务技师: 技师A
  服务费用: ¥198

服务详情:
  服务前评估:
    客户状态: 疲劳
    健康关注: 颈椎
    注意事项:

  服务过程:
    主要操作: 耳穴压豆
    客户反应: 良好
    调整内容:

  服务后评估:
    即时效果: 放松
    客户感受: 舒适
    注意事项: 多喝温水

客户反馈:
  效果评价: 良好
  满意度: 满意
  建议意见:

后续安排:
  下次预约: 2026-02-18
  后续建议: 每周一次
  跟进事项:
    - 新客户首次回访
"""

FLW = """跟进编号: FLW-2026-001
跟进基本信息:
  跟进日期: 2026-02-14
  跟进方式: 电话
  跟进人: 前台
  服务编号: SRV-2026-001

客户信息:
  客户姓名: 张三
  客户编号: "[[C-0001 张三]]"
  联系方式: '13800138000'

跟进内容:
  跟进目的:
    服务效果确认
    客户感受了解
    后续服务建议

  跟进记录:
    客户反馈: 颈椎明显轻松
    效果评估: 良好
    客户满意度: 满意

  跟进结果:
    客户意向: 继续
    下次预约: '2026-02-21 14:00'
    需要跟进: 否

后续计划:
  跟进事项: 新客户首次回访
  跟进时间: '14:00'
  负责人: 前台
"""


def per_call(funcs, text: str, rounds: int, repeat: int = 25) -> list[float]:
    """Best time of one call of each function, in µs; batches interleave so load noise hits all."""
    best = [float("inf")] * len(funcs)
    for _ in range(repeat):
        for i, func in enumerate(funcs):
            best[i] = min(best[i], timeit.timeit(lambda: func(text), number=rounds) / rounds * 1e6)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200, help="calls per timed batch")
    args = ap.parse_args()

    def libyaml(text):
        return yaml.load(text, Loader=yaml.CSafeLoader)

    worst = 0.0
    print(f"{'note':<5} {'lines':>5} {'CSafeLoader µs':>15} {'parse µs':>9} {'ratio':>6}")
    for name, text in (("APP", APP), ("SRV", SRV), ("FLW", FLW)):
        assert parse(text) == libyaml(text), name
        slow, fast = per_call([libyaml, parse], text, args.rounds)
        worst = max(worst, fast / slow)
        print(f"{name:<5} {text.count(chr(10)):>5} {slow:>15.1f} {fast:>9.1f} {fast / slow:>6.3f}")
    print(f"worst ratio parse/CSafeLoader: {worst:.3f} (target <= 0.333): {'OK' if worst <= 1 / 3 else 'TOO SLOW'}")
    return 0 if worst <= 1 / 3 else 1


if __name__ == "__main__":
    sys.exit(main())
