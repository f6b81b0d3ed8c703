"""Views from several dates: with ``multi_date`` the global views of a sample come from different
dates of the same location, without it from one; a multi-date SSL4EO-S12 fit runs."""

from pathlib import Path
from typing import Any

import pytest
import torch

from dtcd.augment import MultiCrop
from dtcd.main import main
from tests.reliability.conftest import TINY_CONFIG, scalars

SAMPLES, DATES = 32, 4


def coded_batch() -> torch.Tensor:
    """``[B, T, 10, H, W]`` where every pixel of date ``t`` of sample ``b`` is ``100 b + t``: a
    crop reads back where and when it was taken."""
    code = 100 * torch.arange(SAMPLES)[:, None] + torch.arange(DATES)[None, :]
    return code.float()[:, :, None, None, None].expand(-1, -1, 10, 32, 32).contiguous()


def origin(crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sample, date)`` of each crop ``[K, B, C, h, w]`` of a :func:`coded_batch`."""
    code = crops[:, :, 5].mean(dim=(-1, -2)).round().long()  # B07: no op touches it
    return code // 100, code % 100


@pytest.mark.parametrize('multi_date', [True, False])
def test_global_views_come_from_two_dates_of_one_location_only_when_asked(
    multi_date: bool,
) -> None:
    torch.manual_seed(0)
    multicrop = MultiCrop(global_size=16, local_size=8, num_local=4, multi_date=multi_date)
    views = multicrop(coded_batch())
    sample, date = origin(views.global_views)
    assert (sample == torch.arange(SAMPLES)).all()  # every view of sample b is of location b
    if multi_date:
        assert (date[0] != date[1]).all()
    else:
        assert (date[0] == date[1]).all() and len(date[0].unique()) > 1  # one, random, date
    local_sample, local_date = origin(views.local_views)
    assert (local_sample == torch.arange(SAMPLES)).all()
    assert torch.equal(local_date, date[[0, 1, 0, 1]])  # local view k: global view k mod 2's date
    assert torch.equal(multicrop.last_dates, date)


def test_a_single_date_batch_is_unchanged_by_the_switch() -> None:
    images = torch.randn(4, 10, 32, 32)
    outputs = []
    for multi_date in (False, True):
        torch.manual_seed(0)
        outputs.append(MultiCrop(global_size=16, local_size=8, multi_date=multi_date)(images))
    assert torch.equal(outputs[0].global_views, outputs[1].global_views)


@pytest.mark.slow
def test_multi_date_pretraining_on_ssl4eo_s12_shards(sharded: Any, tmp_path: Path) -> None:
    """SSL4EO-S12 holds 4 seasons per location: ``dates: all`` keeps them together and the
    multicrop takes the two global views from two of them."""
    shards = sharded('ssl4eo-s12').shards
    data = tmp_path / 'data.yaml'
    data.write_text(
        'data:\n  class_path: dtcd.data.datamodules.StreamingPretrainDataModule\n'
        f'  init_args: {{input_dir: "{shards}", batch_size: 2, num_workers: 0, dates: all}}\n'
    )
    main(['fit', '--config', str(TINY_CONFIG), '--config', str(data),
          '--model.init_args.multicrop.init_args.multi_date=true', '--trainer.max_steps=2',
          f'--trainer.logger.init_args.save_dir={tmp_path}'])  # fmt: skip
    losses = scalars(tmp_path / 'tiny' / 'version_0', 'train/loss')
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(v)) for v in losses.values())
