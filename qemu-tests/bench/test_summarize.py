#!/usr/bin/python3
"""Host-side tests of the benchmarks' goal decisions (summarize.py), run by
scripts/test: `python3 -m unittest` in this directory."""
import unittest

from summarize import goal_verdict, median_ci95


class GoalVerdict(unittest.TestCase):
    def test_met_when_the_whole_interval_is_at_or_above_the_threshold(self):
        v = goal_verdict([0.99, 0.98, 1.00, 0.97, 0.99], threshold=0.95)
        self.assertTrue(v["decided"])
        self.assertIs(v["met"], True)
        self.assertGreaterEqual(v["ci95"][0], 0.95)

    def test_not_met_when_the_whole_interval_is_below_the_threshold(self):
        v = goal_verdict([0.95, 0.96, 0.955, 0.958, 0.952], threshold=1.0)
        self.assertTrue(v["decided"])
        self.assertIs(v["met"], False)
        self.assertLess(v["ci95"][1], 1.0)

    def test_undecided_when_the_interval_straddles_the_threshold(self):
        v = goal_verdict([0.80, 1.10, 0.90, 1.20, 0.85, 1.05], threshold=0.95)
        self.assertFalse(v["decided"])
        self.assertIsNone(v["met"])
        lo, hi = v["ci95"]
        self.assertLess(lo, 0.95)
        self.assertGreaterEqual(hi, 0.95)

    def test_one_round_decides_nothing(self):
        v = goal_verdict([1.5])
        self.assertFalse(v["decided"])
        self.assertIsNone(v["ci95"])

    def test_no_rounds_decide_nothing(self):
        self.assertEqual(goal_verdict([]), {"met": None, "decided": False})

    def test_the_interval_is_the_same_for_the_same_rounds(self):
        rounds = [0.9, 1.1, 1.0, 0.95, 1.05]
        self.assertEqual(median_ci95(rounds), median_ci95(list(rounds)))


if __name__ == "__main__":
    unittest.main()
