"""How much room SynthEO scene classification (and segmentation) leaves for pretraining to win.

Frozen-feature probes of a pretrained student only mean something between two marks: what needs
no learned feature at all (a linear classifier on each image's mean spectrum; an untrained
student's frozen features) and what the labels allow (the same student trained end to end on
them). :func:`headroom` measures the three on SynthEO's EuroSAT layout; :func:`scene_probe` is the
frozen-feature read-out the demo uses for pretrained and random students alike. For segmentation,
:func:`pixel_spectrum_miou` is the no-learned-feature mark (each pixel's own spectrum); the frozen
and fine-tuned students come from the ablation sweep's probes.

Usage: ``python -m dtcd.analysis.headroom --synth-dir data/synth``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchgeo.datasets import EuroSAT
from torchmetrics.classification import MulticlassJaccardIndex

from dtcd.analysis.statistics import mean_and_std
from dtcd.bands import DEO10, EUROSAT13, RGB, reindex
from dtcd.data import LAND_COVER_CLASSES
from dtcd.data.datamodules.pretrain import normalize_like_pretraining
from dtcd.data.datasets import SynthEOSegmentation
from dtcd.data.specs import EUROSAT_CLASSES
from dtcd.models import MultiStemSwin
from dtcd.probes import accuracy, extract_features, fit_linear_classifier, knn_predict

#: The demo's student (experiments/pretrain/demo.yaml).
DEMO_STUDENT: dict[str, Any] = {
    'variant': None,
    'embed_dim': 32,
    'depths': (1, 1, 2, 1),
    'num_heads': (1, 2, 4, 8),
    'window_size': 4,
    'drop_path_rate': 0.0,
}


def splits(root: Path) -> dict[str, EuroSAT]:
    """SynthEO's EuroSAT train and test splits, all 13 bands."""
    return {s: EuroSAT(root=str(root), split=s, bands=EUROSAT13) for s in ('train', 'test')}


def scene_probe(backbone: nn.Module, root: Path, stem: str = 'ms') -> dict[str, Tensor]:
    """Frozen ``stem`` features; per test image, whether the linear classifier and the k-NN vote
    (both fitted on the train split) got it right."""
    bands = backbone.bands[stem]
    features = {
        name: extract_features(
            backbone, dataset, stem, EUROSAT13, lambda x: normalize_like_pretraining(x, bands)
        )
        for name, dataset in splits(root).items()
    }
    (train, train_labels), (test, test_labels) = features['train'], features['test']
    linear = fit_linear_classifier(train, train_labels, num_classes=len(EUROSAT_CLASSES))
    with torch.no_grad():
        linear_predicted = linear(test).argmax(dim=1)
    return {
        'linear': linear_predicted == test_labels,
        'knn': knn_predict(train, train_labels, test, k=10) == test_labels,
    }


def accuracies(correct: dict[str, Tensor]) -> dict[str, float]:
    """Accuracy per read-out."""
    return {name: flags.float().mean().item() for name, flags in correct.items()}


def random_students(config: dict[str, Any], seeds: Sequence[int]) -> list[MultiStemSwin]:
    """Untrained students of one architecture, one per seed."""
    students = []
    for seed in seeds:
        torch.manual_seed(seed)
        students.append(MultiStemSwin(**config))
    return students


#: Images ``[N, 13, H, W]`` (EuroSAT band order) and labels ``[N]`` per split.
Splits = dict[str, tuple[Tensor, Tensor]]


def load_splits(root: Path) -> Splits:
    """Every image and label of the train and test splits, read once."""
    loaded = {}
    for name, dataset in splits(root).items():
        batches = list(DataLoader(dataset, batch_size=256))
        images = torch.cat([b['image'].float() for b in batches])
        loaded[name] = (images, torch.cat([b['label'] for b in batches]))
    return loaded


def mean_spectrum_accuracy(data: Splits, bands: Sequence[str]) -> float:
    """Linear classifier on each image's mean spectrum (``bands``), test accuracy."""
    features = {
        name: (reindex(images, EUROSAT13, bands).mean(dim=(2, 3)), labels)
        for name, (images, labels) in data.items()
    }
    linear = fit_linear_classifier(*features['train'], num_classes=len(EUROSAT_CLASSES))
    with torch.no_grad():
        return accuracy(linear, *features['test'])


def pixel_spectrum_miou(
    root: Path, bands: Sequence[str] = DEO10, pixels: int = 100_000, seed: int = 0
) -> float:
    """SynthEO segmentation from each pixel's own spectrum: a linear classifier on ``pixels``
    training pixels, test mIoU as the segmentation probe computes it (no spatial context)."""
    data = {}
    for split in ('train', 'test'):
        samples = list(SynthEOSegmentation(root, split, bands))
        images = torch.stack([s['image'] for s in samples]).float()
        masks = torch.stack([s['mask'] for s in samples])
        data[split] = (images.permute(0, 2, 3, 1).flatten(0, 2), masks.flatten())
    spectra, labels = data['train']
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(labels), generator=generator)[:pixels]
    classes = len(LAND_COVER_CLASSES)
    linear = fit_linear_classifier(spectra[pick], labels[pick], num_classes=classes)
    test, test_labels = data['test']
    with torch.no_grad():
        predicted = linear(test).argmax(dim=1)
    return MulticlassJaccardIndex(classes, average='macro')(predicted, test_labels).item()


def supervised_accuracy(
    config: dict[str, Any], data: Splits, epochs: int = 40, seed: int = 0, stem: str = 'ms'
) -> float:
    """The student trained end to end on the train labels (random quarter turns), test
    accuracy: what the labels allow this architecture."""
    torch.manual_seed(seed)
    student = MultiStemSwin(**config)
    head = nn.Linear(student.num_features, len(EUROSAT_CLASSES))
    bands = student.bands[stem]
    inputs = {
        name: (normalize_like_pretraining(reindex(images, EUROSAT13, bands), bands), labels)
        for name, (images, labels) in data.items()
    }
    images, labels = inputs['train']
    parameters = [*student.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=1e-3, weight_decay=0.05)
    steps = epochs * -(-len(images) // 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 1e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    student.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(images), generator=generator).split(64):
            x = images[batch].rot90(int(torch.randint(4, (1,), generator=generator)), (2, 3))
            loss = F.cross_entropy(head(student(x, stem)), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    student.eval()
    test, test_labels = inputs['test']
    with torch.no_grad():
        predicted = torch.cat([head(student(x, stem)).argmax(1) for x in test.split(256)])
    return (predicted == test_labels).float().mean().item()


def headroom(
    root: Path,
    config: dict[str, Any] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    supervised_epochs: int = 40,
) -> dict[str, dict[str, float]]:
    """Mean-spectrum, random frozen and supervised marks; random and supervised over ``seeds``.

    Returns ``{row: {'mean': ..., 'std': ...}}`` test accuracies (linear read-out, and k-NN for
    the random student).
    """
    config = dict(DEMO_STUDENT if config is None else config)
    data = load_splits(root)
    rows: dict[str, dict[str, float]] = {}
    for name, bands in (('mean spectrum, 10 bands', DEO10), ('mean spectrum, RGB', RGB)):
        rows[name] = {'mean': mean_spectrum_accuracy(data, bands), 'std': 0.0}
    randoms = [accuracies(scene_probe(s, root)) for s in random_students(config, seeds)]
    for read_out in ('linear', 'knn'):
        mean, std = mean_and_std([r[read_out] for r in randoms])
        rows[f'random frozen student, {read_out}'] = {'mean': mean, 'std': std}
    supervised = [supervised_accuracy(config, data, supervised_epochs, s) for s in seeds]
    mean, std = mean_and_std(supervised)
    rows['supervised student (end to end)'] = {'mean': mean, 'std': std}
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Print the marks as a table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--synth-dir', type=Path, default=Path('data/synth'))
    args = parser.parse_args(argv)
    rows = headroom(args.synth_dir / 'eurosat')
    print('| SynthEO scene classification (test accuracy) | mean | std over 3 seeds |')
    print('|---|---:|---:|')
    for name, row in rows.items():
        print(f'| {name} | {row["mean"]:.3f} | {row["std"]:.3f} |')
    segmentation = args.synth_dir / 'segmentation'
    for name, bands in (('10 bands', DEO10), ('RGB', RGB)):
        miou = pixel_spectrum_miou(segmentation, bands)
        print(f'SynthEO segmentation, linear on each pixel spectrum, {name}: mIoU {miou:.3f}')


if __name__ == '__main__':
    main()
