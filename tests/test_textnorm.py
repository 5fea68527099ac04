"""Normalisation: case tables from tests/data/normalise.json plus the seed texts."""

from __future__ import annotations

import json
from pathlib import Path

import opencc
import pytest

from crawler import textnorm

DATA = json.loads((Path(__file__).parent / "data" / "normalise.json").read_text(encoding="utf-8"))
TEXTS = Path(__file__).parents[1] / "mirror" / "texts"


@pytest.mark.parametrize("case", DATA["equal"], ids=[c["id"] for c in DATA["equal"]])
def test_pairs_normalise_equal(case: dict) -> None:
    assert textnorm.normalise(case["a"]) == textnorm.normalise(case["b"])


@pytest.mark.parametrize("case", DATA["differ"], ids=[c["id"] for c in DATA["differ"]])
def test_pairs_normalise_different(case: dict) -> None:
    assert textnorm.normalise(case["a"]) != textnorm.normalise(case["b"])


def test_traditional_seed_equals_its_simplified_twin() -> None:
    trad = (TEXTS / "jiangsu_2020_trad.txt").read_text(encoding="utf-8")
    simp = opencc.OpenCC("t2s").convert(trad)
    assert simp != trad
    assert textnorm.normalise(trad) == textnorm.normalise(simp)
    assert textnorm.content_hash(textnorm.normalise(trad)) == textnorm.content_hash(
        textnorm.normalise(simp)
    )


def test_layout_debris_and_footer_removed_from_zhejiang_seed() -> None:
    text = textnorm.normalise((TEXTS / "zhejiang_2019.txt").read_text(encoding="utf-8"))
    assert "||" not in text
    assert "扫一扫" not in text and "打印" not in text and "当前位置" not in text
    assert text.endswith("六、其他需要报告的事项无。")  # CJK gaps folded


def test_jszwb_seed_keeps_body_drops_metadata_line() -> None:
    text = textnorm.normalise((TEXTS / "jszwb_2016.txt").read_text(encoding="utf-8"))
    assert "浏览次数" not in text and "信息来源" not in text
    assert "网站总访问量达到130多万人次" in text  # a body sentence about visits stays
    assert text.splitlines()[0] == "江苏省政务服务管理办公室2016年政府信息公开工作年度报告"


def test_normalise_is_idempotent() -> None:
    text = textnorm.normalise((TEXTS / "qidong_2020.txt").read_text(encoding="utf-8"))
    assert textnorm.normalise(text) == text
    assert "" not in text.splitlines()


def test_halfwidth_keeps_cjk_punctuation() -> None:
    assert textnorm.to_halfwidth("、。「」《》〔〕【】“”") == "、。「」《》〔〕【】“”"
