"""The three marks around frozen-feature probes, on SynthEO's tiny preset."""

from pathlib import Path

from dtcd.analysis.headroom import headroom


def test_headroom_rows_and_their_order(synth_root: Path) -> None:
    rows = headroom(synth_root / 'eurosat', seeds=(0, 1), supervised_epochs=2)
    assert list(rows) == [
        'mean spectrum, 10 bands',
        'mean spectrum, RGB',
        'random frozen student, linear',
        'random frozen student, knn',
        'supervised student (end to end)',
    ]
    assert all(0.0 <= row['mean'] <= 1.0 and row['std'] >= 0.0 for row in rows.values())
    assert rows['mean spectrum, 10 bands']['mean'] > rows['mean spectrum, RGB']['mean']
    assert rows['mean spectrum, 10 bands']['std'] == 0.0  # deterministic: no seed
