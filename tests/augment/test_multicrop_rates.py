"""MultiCrop draws the paper's augmentation distribution (PAPER.md §2.8), checked statistically.

Two yardsticks dtcd did not write: the probabilities printed in the paper, and a per-sample
torchvision pipeline built from the paper's description (``benchmarks/reference_augment.py``:
``RandomResizedCrop``, ``RandomApply``, ``RandomGrayscale``, ...). Over many crops:

- each photometric op is applied at its probability per view group (global view 1, global view 2,
  local views): every op is wrapped to record which crops it changed, and the rate must lie
  within 4 binomial standard errors of the paper's value (exact where the value is 0 or 1);
- crop scale, aspect ratio and flips are read back from the crops themselves (two bands hold the
  source pixel's x and y) and dtcd's distributions agree with torchvision's (two-sample
  Kolmogorov-Smirnov at α = 0.001; the flip rate within 4 standard errors of 0.5).

The RGB bands are uniform noise, so every op changes a crop it is applied to; blur σ is drawn
from (0.5, 2) in both pipelines here, since σ near 0.1 leaves a float32 image unchanged.
"""

import math
from collections import defaultdict
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import dtcd.augment.ops as ops_module
from benchmarks.reference_augment import ReferenceMultiCrop
from dtcd.augment import MultiCrop, MultiCropViews
from dtcd.bands import DEO10, FMOW_SENTINEL_DEO10, RGB

SIDE, GLOBAL, LOCAL, NUM_LOCAL = 96, 16, 8, 2
GLOBAL_SCALE, LOCAL_SCALE = (0.4, 1.0), (0.05, 0.4)
X_BAND, Y_BAND = 3, 4  # B05 and B06 carry the source coordinates: no photometric op sees them
BATCHES, BATCH = 5, 200  # 1000 images: 1000 crops per global view, 2000 local crops
REFERENCE_BATCHES = 3  # torchvision works per sample: 600 images take it ~25 s on 2 cores
SIGMA = (0.5, 2.0)
OPS = ('jitter', 'grayscale', 'blur', 'solarize')
# PAPER.md §2.8 per view group: colour jitter, grayscale, blur, solarize.
PAPER = {
    'global 1': {'jitter': 0.8, 'grayscale': 0.2, 'blur': 1.0, 'solarize': 0.0},
    'global 2': {'jitter': 0.8, 'grayscale': 0.2, 'blur': 0.1, 'solarize': 0.2},
    'local': {'jitter': 0.8, 'grayscale': 0.2, 'blur': 0.5, 'solarize': 0.0},
}
GROUPS = tuple(PAPER)

Record = dict[tuple[str, str], list[Tensor]]  # (group, op) -> per call, which crops changed


def images(seed: int) -> Tensor:
    """Normalised DEO10 images: RGB uniform in [0, 1] (in the data units), coordinate bands."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.zeros(BATCH, len(DEO10), SIDE, SIDE)
    mean, std = FMOW_SENTINEL_DEO10.tensors(RGB)
    rgb = torch.rand(BATCH, 3, SIDE, SIDE, generator=generator)
    x[:, :3] = (rgb - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    centres = torch.arange(SIDE, dtype=torch.float32) + 0.5
    x[:, X_BAND] = centres.view(1, 1, -1)
    x[:, Y_BAND] = centres.view(1, -1, 1)
    return x


def recording(op: str, function: Callable[..., Tensor], record: Record, group: list[str]):
    """``function`` that also notes which of its crops it changed, under the current group."""

    def wrapped(rgb: Tensor, *args: object, **kwargs: object) -> Tensor:
        out = function(rgb, *args, **kwargs)
        changed = (out != rgb).flatten(1).any(dim=1) if out.shape == rgb.shape else None
        record[group[0], op].append(changed)
        return out

    return wrapped


def dtcd_views(monkeypatch: pytest.MonkeyPatch) -> tuple[list[MultiCropViews], Record]:
    """dtcd's crops of the test images, with what each photometric op changed."""
    record: Record = defaultdict(list)
    group = ['']
    functions = {'jitter': 'color_jitter', 'grayscale': 'random_grayscale',
                 'blur': 'random_gaussian_blur', 'solarize': 'random_solarize'}  # fmt: skip
    for op, name in functions.items():
        original = getattr(ops_module, name)
        monkeypatch.setattr(ops_module, name, recording(op, original, record, group))
    multicrop = MultiCrop(
        global_size=GLOBAL, local_size=LOCAL, num_local=NUM_LOCAL, blur_sigma=SIGMA,
        global_scale=GLOBAL_SCALE, local_scale=LOCAL_SCALE,
    )  # fmt: skip
    augment = multicrop._augment
    names = dict(zip(('global0', 'global1', 'local'), GROUPS, strict=True))

    def labelled(crops: Tensor, view: str) -> None:
        group[0] = names[view]
        augment(crops, view)

    monkeypatch.setattr(multicrop, '_augment', labelled)
    torch.manual_seed(0)
    return [multicrop(images(seed)) for seed in range(BATCHES)], record


class Recorded(torch.nn.Module):
    """A torchvision transform that notes whether it changed its (single) image."""

    def __init__(self, transform: torch.nn.Module, op: str, group: str, record: Record) -> None:
        super().__init__()
        self.transform, self.op, self.group, self.record = transform, op, group, record

    def forward(self, rgb: Tensor) -> Tensor:
        out = self.transform(rgb)
        self.record[self.group, self.op].append(torch.tensor([not torch.equal(out, rgb)]))
        return out


def reference_views() -> tuple[list[MultiCropViews], Record]:
    """The torchvision reference's crops of the same images, with what each op changed."""
    record: Record = defaultdict(list)
    reference = ReferenceMultiCrop(
        global_size=GLOBAL, local_size=LOCAL, num_local=NUM_LOCAL, blur_sigma=SIGMA,
        global_scale=GLOBAL_SCALE, local_scale=LOCAL_SCALE,
    )  # fmt: skip
    composes = [*reference.global_photometric, reference.local_photometric]
    for group, compose in zip(GROUPS, composes, strict=True):
        compose.transforms = [
            Recorded(t, op, group, record) for t, op in zip(compose.transforms, OPS, strict=False)
        ]
    torch.manual_seed(0)
    return [reference(images(seed)) for seed in range(REFERENCE_BATCHES)], record


def rates(record: Record) -> dict[str, dict[str, tuple[float, int]]]:
    """``group -> op -> (share of crops changed, crops)``; an op never called changed none."""
    found: dict[str, dict[str, tuple[float, int]]] = {}
    for group in GROUPS:
        found[group] = {}
        for op in OPS:
            calls = [c for c in record.get((group, op), []) if c is not None]
            crops = torch.cat(calls) if calls else torch.zeros(0, dtype=torch.bool)
            found[group][op] = (crops.float().mean().item() if len(crops) else 0.0, len(crops))
    return found


def assert_rates_are_the_papers(measured: dict[str, dict[str, tuple[float, int]]]) -> None:
    for group, ops in PAPER.items():
        for op, p in ops.items():
            rate, n = measured[group][op]
            if p in (0.0, 1.0):
                assert rate == p, f'{group} {op}: rate {rate}, the paper says {p}'
                continue
            tolerance = 4 * math.sqrt(p * (1 - p) / n)
            assert abs(rate - p) <= tolerance, (
                f'{group} {op}: rate {rate:.3f} over {n} crops, paper {p} (± {tolerance:.3f})'
            )


@pytest.fixture(scope='module')
def ours() -> tuple[list[MultiCropViews], Record]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return dtcd_views(monkeypatch)


@pytest.fixture(scope='module')
def reference() -> tuple[list[MultiCropViews], Record]:
    return reference_views()


def test_photometric_rates_per_view_group_are_the_papers(
    ours: tuple[list[MultiCropViews], Record], reference: tuple[list[MultiCropViews], Record]
) -> None:
    views, record = ours
    measured = rates(record)
    assert measured['global 1']['jitter'][1] == BATCHES * BATCH
    assert measured['local']['jitter'][1] == BATCHES * BATCH * NUM_LOCAL
    assert_rates_are_the_papers(measured)
    assert_rates_are_the_papers(rates(reference[1]))  # the yardstick itself reads the paper so
    # Photometric ops never touch the other bands: the coordinates are only resampled.
    assert all(torch.isfinite(v.global_views).all() for v in views)


def geometry(views: list[MultiCropViews], local: bool) -> dict[str, Tensor]:
    """Crop area share, log aspect ratio and flip of each crop, read back from its coordinates.

    A crop of width ``w`` source pixels resampled to ``s`` pixels steps ``w / s`` per output
    pixel in the x band (negative when flipped); a least-squares slope over the inner pixels (the
    border ones see clamped or antialiased edges) gives it.
    """
    crops = torch.cat([(v.local_views if local else v.global_views).flatten(0, 1) for v in views])
    size = crops.shape[-1]
    inner = slice(2, size - 2)
    positions = torch.arange(size, dtype=torch.float64)[inner]
    positions = positions - positions.mean()

    def slope(values: Tensor) -> Tensor:  # [N, k] along the positions
        values = values.double() - values.double().mean(dim=1, keepdim=True)
        return (values * positions).sum(dim=1) / (positions**2).sum()

    dx = slope(crops[:, X_BAND, inner, inner].mean(dim=1))
    dy = slope(crops[:, Y_BAND, inner, inner].mean(dim=2))
    width, height = dx.abs() * size, dy.abs() * size
    return {
        'scale': width * height / SIDE**2,
        'log_ratio': (width / height).log(),
        'flipped': dx < 0,
    }


def ks_statistic(a: Tensor, b: Tensor) -> float:
    """Largest gap between the two empirical distribution functions."""
    points = torch.cat([a, b]).sort().values
    cdf_a = torch.searchsorted(a.sort().values, points, right=True) / len(a)
    cdf_b = torch.searchsorted(b.sort().values, points, right=True) / len(b)
    return float((cdf_a - cdf_b).abs().max())


@pytest.mark.parametrize('local', [False, True], ids=['global', 'local'])
def test_crop_geometry_is_torchvisions_distribution(
    ours: tuple[list[MultiCropViews], Record],
    reference: tuple[list[MultiCropViews], Record],
    local: bool,
) -> None:
    mine, theirs = geometry(ours[0], local), geometry(reference[0], local)
    low, high = LOCAL_SCALE if local else GLOBAL_SCALE
    for measured in (mine, theirs):
        # Within the scale range (up to the read-back error) and both flip states at 0.5.
        assert measured['scale'].min() > low * 0.9 and measured['scale'].max() < high * 1.05
        assert measured['log_ratio'].abs().max() < math.log(4 / 3) + 0.05
        n = len(measured['flipped'])
        assert abs(measured['flipped'].double().mean() - 0.5) <= 4 * math.sqrt(0.25 / n)
    n, m = len(mine['scale']), len(theirs['scale'])
    critical = 1.95 * math.sqrt((n + m) / (n * m))  # α = 0.001
    for key in ('scale', 'log_ratio'):
        statistic = ks_statistic(mine[key], theirs[key])
        assert statistic < critical, f'{key}: KS {statistic:.3f} >= {critical:.3f}'
