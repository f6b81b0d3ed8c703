"""Layout checks name what is missing, and let an archive stand for the folder TorchGeo extracts
from it (as TorchGeo's own classes do with ``download=False``)."""

from pathlib import Path

import pytest

from dtcd.data.datamodules import PASTISDataModule
from dtcd.data.datamodules.layout import DatasetLayout, DatasetLayoutError

LAYOUT = DatasetLayout('Demo', 'nowhere', 'Demo/a.txt\nsplits.csv', archives={'Demo': 'Demo.zip'})


def test_an_archive_stands_for_its_folder_but_not_for_other_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=r"missing 'Demo/a.txt', 'splits.csv'"):
        LAYOUT.require(tmp_path, ['Demo/a.txt', 'splits.csv'])
    (tmp_path / 'Demo.zip').write_bytes(b'')
    with pytest.raises(DatasetLayoutError, match=r"missing 'splits.csv'") as error:
        LAYOUT.require(tmp_path, ['Demo/a.txt', 'splits.csv'])
    assert 'Demo/a.txt' not in str(error.value).split('\n')[0]
    (tmp_path / 'splits.csv').write_text('')
    LAYOUT.require(tmp_path, ['Demo/a.txt', 'splits.csv'])


def test_zip_only_pastis_root_reaches_torchgeo(tmp_path: Path) -> None:
    """dtcd's check no longer refuses it; TorchGeo then opens the archive (here an empty file,
    so TorchGeo's extraction is what fails, not dtcd's layout check)."""
    (tmp_path / 'PASTIS-R.zip').write_bytes(b'not a zip')
    datamodule = PASTISDataModule(root=str(tmp_path), batch_size=1)
    with pytest.raises(Exception) as error:
        datamodule.build_dataset('train', lambda sample: sample)
    assert not isinstance(error.value, DatasetLayoutError), error.value
