"""Reading TensorBoard scalars back: real event files written by Lightning's logger."""

from pathlib import Path

import pytest
from lightning.pytorch.loggers import TensorBoardLogger

from dtcd.analysis.scalars import main, read_scalars


def test_first_min_last_of_logged_scalars(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    logger = TensorBoardLogger(tmp_path, name='run', version='v')
    for step, loss in enumerate([6.9, 5.0, 3.0, 4.0]):
        logger.log_metrics({'train/loss': loss, 'train/other': 1.0}, step=step)
    logger.finalize('success')
    run = Path(logger.log_dir)
    scalars = read_scalars(run)
    assert [v for _, v in scalars['train/loss']] == pytest.approx([6.9, 5.0, 3.0, 4.0])
    main([str(run), '--tags', 'train/loss', 'train/missing'])
    printed = capsys.readouterr().out
    assert f'| {run} | train/loss | 6.9 @ 0 | 3 @ 2 | 4 @ 3 |' in printed
    assert f'| {run} | train/missing | – | – | – |' in printed
    with pytest.raises(FileNotFoundError, match='No TensorBoard event file'):
        read_scalars(tmp_path)
