"""The three marks around frozen-feature probes, on SynthEO's tiny preset."""

from pathlib import Path

from dtcd.analysis.headroom import headroom, pixel_spectrum_miou
from dtcd.bands import DEO10, RGB


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


def test_pixel_spectra_segment_synth_eo_better_with_ten_bands_than_rgb(synth_root: Path) -> None:
    root = synth_root / 'segmentation'
    ten, rgb = (pixel_spectrum_miou(root, bands, pixels=20_000) for bands in (DEO10, RGB))
    assert 0.0 < rgb < ten < 1.0  # some land covers differ only outside the visible bands
    assert pixel_spectrum_miou(root, DEO10, pixels=20_000) == ten  # deterministic
