"""The feature cache: exact by construction, and a cached probe trains to the same predictions."""

from pathlib import Path

import torch
from lightning.pytorch import Trainer, seed_everything

from dtcd.data.datamodules import EuroSATDataModule
from dtcd.probes import ClassificationProbe, FeatureCache
from tests.probes.conftest import TINY_SWIN


def test_cache_computes_each_distinct_input_once() -> None:
    cache, calls = FeatureCache(), []

    def compute(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return x.flatten(1).sum(dim=1, keepdim=True)

    a, b = torch.randn(3, 2, 4, 4), torch.randn(2, 2, 4, 4)
    first = cache(a, compute)
    mixed = cache(torch.cat([b, a[:1]]), compute, 'eval')  # b is new, a[0] is a hit
    assert calls == [3, 2] and len(cache) == 5
    assert (cache.hits['train'], cache.misses['train'], cache.hit_rate('train')) == (0, 3, 0)
    assert (cache.hits['eval'], cache.misses['eval'], cache.hit_rate('eval')) == (1, 2, 1 / 3)
    assert torch.equal(mixed[2], first[0])
    torch.testing.assert_close(mixed[:2], compute(b))
    assert cache.keys(a[:1]) != cache.keys(a[:1].double())  # dtype is part of the key


def fit_probe(root: Path, tmp_path: Path, cache: bool) -> tuple[ClassificationProbe, Trainer]:
    seed_everything(0)
    probe = ClassificationProbe('random:swin_t', TINY_SWIN, knn_k=0, cache_features=cache, lr=1e-2)
    data = EuroSATDataModule(root=str(root), batch_size=16)
    trainer = Trainer(
        accelerator='cpu',
        max_epochs=2,
        limit_val_batches=1,
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
    )
    trainer.fit(probe, datamodule=data)
    return probe, trainer


def test_cached_and_uncached_probes_predict_identically(synth_root: Path, tmp_path: Path) -> None:
    root = synth_root / 'eurosat'
    cached, trainer = fit_probe(root, tmp_path / 'cached', cache=True)
    plain, _ = fit_probe(root, tmp_path / 'plain', cache=False)
    assert cached.cache is not None and cached.cache.hits['train'] > 0 and plain.cache is None
    assert torch.equal(cached.head.weight, plain.head.weight)
    assert torch.equal(cached.head.bias, plain.head.bias)
    data = trainer.datamodule
    batch = next(iter(data.val_dataloader()))
    images = data.aug({'image': batch['image'], 'label': batch['label']})['image']
    with torch.no_grad():
        cached_logits, plain_logits = cached.eval()(images), plain.eval()(images)
    assert torch.equal(cached_logits, plain_logits)
    assert torch.equal(cached_logits.argmax(1), plain_logits.argmax(1))
