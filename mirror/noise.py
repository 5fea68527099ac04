"""Per-request page noise: view counters, today's date, a rotating sidebar, random tokens.

Every page of the noisy portals carries fresh noise on every request, like real portals
do; a change monitor must not mistake it for a change. ``relayout`` re-indents a page and
reverses attribute order (the ``noise-only`` state) without touching its text.

>>> relayout('<p class="a" id="b">x</p>')
'  <p id="b" class="a">x</p>'
>>> Fresh.fixed(date(2021, 3, 1), "t").today
'2021年3月1日 星期一'

May import: the standard library only (a leaf).
"""

from __future__ import annotations

import html
import random
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

HEADLINES = [
    "省政府召开常务会议研究部署稳就业工作",
    "全省安全生产工作电视电话会议召开",
    "我省出台支持中小企业发展若干措施",
    "关于开展2021年度政务公开培训的通知",
    "省政府与国家开发银行签署合作协议",
    "全省营商环境评价结果发布",
    "一图读懂《政府工作报告》",
    "省长信箱办理情况通报（第一季度）",
    "我省新增4家国家级高新技术企业孵化器",
    "全省春季农业生产现场推进会召开",
    "关于公布省级行政许可事项清单的通知",
    "政务服务“一网通办”再提速",
    "我省召开疫情防控新闻发布会",
    "省政府办公厅关于做好节日期间值班工作的通知",
    "省政府新闻办举行发布会介绍民生实事进展",
    "全省生态环境保护大会召开",
    "我省公布第二批省级示范区名单",
    "省委省政府召开全省重点项目建设推进会",
    "关于征集“十四五”规划意见建议的公告",
    "我省举办网络安全宣传周活动",
    "全省交通运输工作会议在宁召开",
    "省政府印发数字政府建设实施方案",
    "2021年省政府民生实事项目公布",
    "我省开展“双随机、一公开”联合抽查",
    "全省粮食安全责任制考核部署会召开",
    "省政府办公厅通报政府网站抽查情况",
    "省政府召开全体会议部署今年重点工作",
    "我省基层政务公开标准化规范化工作推进会召开",
    "关于调整部分行政事业性收费标准的通知",
    "全省文明城市创建工作推进会召开",
    "我省高速公路服务区提档升级",
    "省政府督查组赴各地开展专项督查",
    "全省教育工作会议召开",
    "我省发布企业信用修复指引",
    "省政府新闻发布会解读医保新政",
    "全省河长制湖长制工作会议召开",
    "我省启动长江十年禁渔专项行动",
    "省政府与高校签署战略合作协议",
    "全省残疾人工作会议召开",
    "我省推进“一件事一次办”改革",
]
WEEKDAYS = "一二三四五六日"


def _today(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}"


@dataclass
class Noise:
    """Noise settings of the current state: which headlines rotate, which layout variant."""

    headlines: list[str] = field(default_factory=lambda: HEADLINES[:20])
    layout: int = 0


@dataclass
class Fresh:
    """One request's noise values."""

    counter: int
    today: str
    now: str
    token: str
    sidebar: list[str]

    @classmethod
    def draw(cls, noise: Noise) -> Fresh:
        """New values for one request."""
        now = datetime.now()
        rnd = random.Random()
        return cls(
            counter=rnd.randint(100, 99999),
            today=_today(now),
            now=now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond:06d}",
            token=secrets.token_hex(8),
            sidebar=rnd.sample(noise.headlines, 5),
        )

    @classmethod
    def fixed(cls, day: date, token: str) -> Fresh:
        """Frozen values for pages served as static bytes: counter 0, ``day`` at midnight."""
        return cls(0, _today(day), f"{day.isoformat()} 00:00:00", token, HEADLINES[:5])

    def sidebar_html(self) -> str:
        items = "".join(
            f'<li><a href="javascript:void(0);" title="{html.escape(h)}">{html.escape(h)}</a></li>'
            for h in self.sidebar
        )
        return f'<div class="zxxx"><h3>最新信息</h3><ul>{items}</ul></div>'


ATTRS = re.compile(r'<([a-zA-Z][\w]*)((?:\s+[\w:-]+="[^"]*"){2,})(\s*/?)>')
ATTR = re.compile(r'\s+[\w:-]+="[^"]*"')


def relayout(page: str) -> str:
    """Same text, other bytes: attribute order reversed, every line indented two spaces."""
    page = ATTRS.sub(
        lambda m: f"<{m.group(1)}{''.join(reversed(ATTR.findall(m.group(2))))}{m.group(3)}>", page
    )
    return "\n".join("  " + line for line in page.split("\n"))
