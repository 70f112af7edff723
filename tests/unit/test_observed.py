from brickyard.services.examine import Difference, ExamineReport
from brickyard.services.observed import Observations


def test_record_examine_counts_what_remains_by_kind() -> None:
    report = ExamineReport(
        differences=[
            Difference("space mismatch", "d1", "x"),
            Difference("space mismatch", "d2", "y"),
            Difference("unknown gluster volume", "v", "z", fixable=True, fixed=True),
            Difference("node unreachable", "h", "w"),
        ]
    )
    seen = Observations()
    summary = seen.record_examine(report)
    assert seen.last_examine is summary
    assert summary.remaining == {"space mismatch": 2, "node unreachable": 1}
    assert summary.fixed == 1
    assert summary.drift == 3
