"""Names for generated portals and reports: 20 cities and 20 issuing units.

Used by the synthetic ``bench`` portal and the family portals at scale, so that report
titles read like real ones (``苏州市教育局2020年政府信息公开工作年度报告``).

May import: nothing (a leaf).
"""

from __future__ import annotations

CITIES = [
    "南京市",
    "无锡市",
    "徐州市",
    "常州市",
    "苏州市",
    "南通市",
    "连云港市",
    "淮安市",
    "盐城市",
    "扬州市",
    "镇江市",
    "泰州市",
    "宿迁市",
    "杭州市",
    "宁波市",
    "温州市",
    "嘉兴市",
    "湖州市",
    "绍兴市",
    "金华市",
]
UNITS = [
    "人民政府",
    "发展和改革委员会",
    "教育局",
    "科学技术局",
    "工业和信息化局",
    "公安局",
    "民政局",
    "司法局",
    "财政局",
    "人力资源和社会保障局",
    "自然资源和规划局",
    "生态环境局",
    "住房和城乡建设局",
    "交通运输局",
    "水利局",
    "农业农村局",
    "商务局",
    "文化广电和旅游局",
    "卫生健康委员会",
    "市场监督管理局",
]
