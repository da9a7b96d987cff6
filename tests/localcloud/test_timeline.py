"""The demo's timeline picture (tests/localcloud/timeline.py)."""

import os
import sys
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timeline import Timeline  # noqa: E402

NS = "{http://www.w3.org/2000/svg}"


class TimelineSvg(unittest.TestCase):
    def story(self):
        tl = Timeline()
        tl.chapter(0, "== 1. 6 backends launch & clusterize")
        tl.sample(0, {"Pending:Wait": 6}, {})
        tl.sample(60, {"Pending:Wait": 6}, {"active": 6})
        tl.sample(70, {"InService": 6}, {"active": 6})
        tl.chapter(80, "== 2. desired 6 -> 8 <scale-out>")
        tl.sample(100, {"InService": 8}, {"active": 7, "deactivating": 1, "down": 2})
        return tl

    def test_one_line_per_series_that_changes_with_the_counts(self):
        root = ET.fromstring(self.story().svg())
        lines = {p.get("data-series"): p.get("points") for p in root.iter(NS + "polyline")}
        self.assertIn("asg:InService", lines)
        self.assertIn("weka:active", lines)
        # InService goes 0 -> 6 -> 8: three distinct heights.
        ys = {pt.split(",")[1] for pt in lines["asg:InService"].split()}
        self.assertEqual(len(ys), 3, lines["asg:InService"])
        # WEKA's down and inactive machines share one series (2 at the last sample).
        last_inactive = lines["weka:inactive"].split()[-1]
        last_active = lines["weka:active"].split()[-1]
        self.assertNotEqual(last_inactive.split(",")[1], last_active.split(",")[1])

    def test_chapters_are_marked_and_titles_escaped(self):
        svg = self.story().svg()
        root = ET.fromstring(svg)  # escaping keeps it well-formed
        texts = [t.text or "" for t in root.iter(NS + "text")]
        self.assertTrue(any("desired 6 -> 8 <scale-out>" in t for t in texts), texts)
        dashed = [ln for ln in root.iter(NS + "line") if ln.get("stroke-dasharray")]
        self.assertEqual(len(dashed), 2)

    def test_an_empty_run_still_draws(self):
        root = ET.fromstring(Timeline().svg())
        self.assertEqual(root.tag, NS + "svg")


if __name__ == "__main__":
    unittest.main()
