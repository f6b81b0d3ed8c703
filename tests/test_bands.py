"""Band registry: names, sets, reindexing by name and normalisation."""

import pytest
import torch

from dtcd.bands import (
    DEO10,
    EUROSAT13,
    FMOW_SENTINEL_DEO10,
    RGB,
    S2_BANDS,
    S2_L1C_13,
    S2_L2A_12,
    SENTINEL2_DN,
    MissingBandError,
    band_indices,
    normalize,
    reindex,
    resolve_bands,
)


def test_registry_has_all_13_bands_with_physics() -> None:
    assert len(S2_BANDS) == 13
    assert list(S2_BANDS) == list(S2_L1C_13)
    wavelengths = [S2_BANDS[b].center_nm for b in S2_L1C_13]
    assert wavelengths == sorted(wavelengths)  # L1C order is spectral order
    assert {S2_BANDS[b].gsd_m for b in ('B02', 'B03', 'B04', 'B08')} == {10}
    assert {S2_BANDS[b].gsd_m for b in ('B01', 'B09', 'B10')} == {60}


def test_band_sets() -> None:
    assert S2_L2A_12 == tuple(b for b in S2_L1C_13 if b != 'B10')
    assert EUROSAT13[-1] == 'B8A' and len(EUROSAT13) == 13
    assert DEO10 == ('B04', 'B03', 'B02', 'B05', 'B06', 'B07', 'B08', 'B8A', 'B11', 'B12')
    assert RGB == DEO10[:3]
    assert resolve_bands('DEO10') == DEO10
    assert resolve_bands(['B8A', 'B02']) == ('B8A', 'B02')


@pytest.mark.parametrize(
    ('spec', 'message'),
    [('deo11', 'Unknown band set'), (['B02', 'B13'], 'B13'), (['B02', 'B02'], 'more than once')],
)
def test_resolve_bands_rejects_bad_specs(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_bands(spec)  # type: ignore[arg-type]


def test_reindex_eurosat_to_deo10_moves_each_band_by_name() -> None:
    # Each channel holds its band's position in the L1C list, so we can read where it went.
    code = {b: float(i) for i, b in enumerate(S2_L1C_13)}
    x = torch.tensor([code[b] for b in EUROSAT13]).view(1, 13, 1, 1).expand(2, 13, 4, 4)
    y = reindex(x, EUROSAT13, DEO10)
    assert y.shape == (2, 10, 4, 4)
    assert y[0, :, 0, 0].tolist() == [code[b] for b in DEO10]
    # B8A sits last in EuroSAT but eighth in DEO10.
    assert y[1, 7, 3, 3].item() == code['B8A']


def test_reindex_works_on_change_pairs_and_identity() -> None:
    x = torch.randn(3, 2, 13, 8, 8)
    assert reindex(x, S2_L1C_13, S2_L1C_13) is x
    y = reindex(x, S2_L1C_13, RGB)
    torch.testing.assert_close(y[:, :, 0], x[:, :, 3])


def test_missing_band_error_names_every_missing_band() -> None:
    with pytest.raises(MissingBandError, match=r"\['B11', 'B12'\]"):
        band_indices((*RGB, 'B08'), ('B08', 'B11', 'B12'))
    with pytest.raises(MissingBandError, match='B10'):
        reindex(torch.zeros(12, 2, 2), S2_L2A_12, S2_L1C_13)


def test_reindex_rejects_band_list_of_wrong_length() -> None:
    with pytest.raises(ValueError, match='has 10 bands'):
        reindex(torch.zeros(10, 2, 2), S2_L1C_13, RGB)


def test_normalize_uses_stats_by_band_name() -> None:
    mean, std = SENTINEL2_DN.tensors(('B8A', 'B02'))
    x = torch.stack([mean[0] + 2 * std[0], mean[1] - std[1]]).view(2, 1, 1)
    y = normalize(x, ('B8A', 'B02'), SENTINEL2_DN)
    torch.testing.assert_close(y.flatten(), torch.tensor([2.0, -1.0]))
    assert FMOW_SENTINEL_DEO10.tensors(DEO10)[0].shape == (10,)
    with pytest.raises(MissingBandError, match='B01'):
        FMOW_SENTINEL_DEO10.tensors(('B01',))
