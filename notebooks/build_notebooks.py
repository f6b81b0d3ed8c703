"""Write the example notebooks from the cell sources below: `python notebooks/build_notebooks.py`.

The notebooks are generated so they stay reviewable as Python and are stored without outputs;
``tests/test_notebooks.py`` checks the ``.ipynb`` files match this script and executes them
headless with ``DTCD_NOTEBOOK_TINY=1``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

PARAMETERS = """\
# Parameters: environment variables, so tests and scripts run this notebook headless.
import os
from pathlib import Path

TINY = os.environ.get('DTCD_NOTEBOOK_TINY', '0') == '1'  # seconds-long settings for tests
DATA = Path(os.environ.get('DTCD_NOTEBOOK_DATA', 'data/synth'))  # SynthEO, generated if missing
"""

GENERATE = """\
from dtcd.data.synthetic import generate

if not (DATA / 'pretrain' / 'index.csv').is_file():
    print(generate(DATA, preset='tiny' if TINY else 'demo').format())
"""

# Notebooks 02 and 03 compare a student with its frozen optical teacher. Frozen teachers are not
# stored in dtcd checkpoints (only their weights' path and hash), so the pair is either loaded
# from files (a real run) or made here by a short pretraining with a tiny random teacher.
PAIR_PARAMETERS = """\
CHECKPOINT = os.environ.get('DTCD_CHECKPOINT')  # dtcd .ckpt / .safetensors / DEO .pth, or None
TEACHER_WEIGHTS = os.environ.get('DTCD_TEACHER_WEIGHTS')  # its DINOv3 ViT-B/16 .pth
SIZE = 128 if TINY else 224  # input side: stride-16 maps of SIZE / 16 tokens
"""

PAIR = """\
import torch
from lightning.pytorch import Trainer

from dtcd.augment import MultiCrop
from dtcd.data.datamodules import PairedPretrainDataModule
from dtcd.distill import MCRObjective, OpticalDistillation, SelfDistillation
from dtcd.models import FrozenTeacher, MultiStemSwin
from dtcd.pretrain import DistillationModule

torch.manual_seed(0)
data = PairedPretrainDataModule(root=str(DATA / 'pretrain'), batch_size=8, persistent_workers=False)
if CHECKPOINT:
    student = MultiStemSwin.from_pretrained(CHECKPOINT)
    teacher = FrozenTeacher('vit_base_patch16_dinov3', weights=TEACHER_WEIGHTS, blocks=[8, 11])
else:  # the demo's architecture; a random teacher, pretrained for a few steps (TINY) or more
    student = MultiStemSwin(
        variant=None, embed_dim=32, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8], window_size=4
    )
    teacher = FrozenTeacher(
        'vit_small_patch16_dinov3',
        weights=None,
        blocks=[2, 3],
        normalization=None,
        model_kwargs={'depth': 4, 'embed_dim': 96, 'num_heads': 3},
    )
    module = DistillationModule(
        student,
        [
            SelfDistillation(MCRObjective(out_dim=64, hidden_dim=128)),
            OpticalDistillation(teacher, hidden_dim=128),
        ],
        MultiCrop(global_size=64, local_size=32, num_local=2, blur_kernel_size=9),
        lr=2e-3,
        lr_reference_batch=32,
    )
    Trainer(
        accelerator='cpu',
        max_steps=4 if TINY else 300,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    ).fit(module, data)
random_student = MultiStemSwin(**student.config())  # the untrained reference
for network in (student, teacher, random_student):
    network.eval()
data.setup('fit')
"""

BATCHES = """\
import torch.nn.functional as F


def batches(limit: int):
    \"\"\"Normalised pretraining images (MS with the paired RGB), resized to SIZE px.\"\"\"
    for i, batch in enumerate(data.train_dataloader()):
        if i == limit:
            return
        images = data.aug({'image': batch['image']})['image']
        yield F.interpolate(images, size=SIZE, mode='bilinear', align_corners=False)
"""

QUICKSTART = [
    new_markdown_cell(
        '# Quick start: SynthEO → pretraining → probe → training curves\n\n'
        'Everything runs offline on generated data: `dtcd synth`, `dtcd fit` with the demo '
        'pretraining config, then `dtcd fit` with a probe config on the pretrained checkpoint. '
        'The commands are the CLI ones, called in-process through `dtcd.main.main`.'
    ),
    new_code_cell(PARAMETERS + "RUNS = Path('runs_notebook')  # TensorBoard logs and checkpoints"),
    new_code_cell(GENERATE),
    new_markdown_cell(
        '## Pretrain\n\n`experiments/pretrain/demo.yaml`: tiny Swin student, EMA (MCR) teacher '
        'and a tiny random DINOv3-architecture teacher. `TINY` runs a few steps only.'
    ),
    new_code_cell("""\
import dtcd
from dtcd.main import main

CONFIGS = Path(dtcd.__file__).parents[1] / 'experiments'
tiny = [
    '--trainer.max_steps', '4', '--data.init_args.batch_size', '8',
    '--model.init_args.multicrop.init_args.num_local', '2',
]  # fmt: skip
main([
    'fit', '--config', str(CONFIGS / 'pretrain' / 'demo.yaml'),
    '--data.init_args.root', str(DATA / 'pretrain'),
    '--trainer.logger.init_args.save_dir', str(RUNS),
    '--trainer.log_every_n_steps', '1', '--trainer.enable_progress_bar', 'false',
    *(tiny if TINY else []),
])  # fmt: skip
pretrain_dir = max((RUNS / 'demo_pretrain').glob('version_*'), key=lambda p: p.stat().st_mtime)
checkpoint = pretrain_dir / 'checkpoints' / 'last.ckpt'
checkpoint"""),
    new_markdown_cell(
        '## Probe\n\nA linear probe (and k-NN) on frozen features of SynthEO scene '
        'classification. `dtcd fit` tests the best validation epoch and writes '
        '`test_metrics.json` into the run directory.'
    ),
    new_code_cell("""\
import json

main([
    'fit', '--config', str(CONFIGS / 'probes' / 'synth_classification.yaml'),
    '--model.init_args.backbone', str(checkpoint),
    '--data.init_args.root', str(DATA / 'eurosat'),
    '--trainer.logger.init_args.save_dir', str(RUNS),
    '--trainer.max_epochs', '2' if TINY else '30', '--trainer.enable_progress_bar', 'false',
])  # fmt: skip
probe_dir = max(
    (RUNS / 'probe_synth_classification').glob('version_*'), key=lambda p: p.stat().st_mtime
)
metrics = json.loads((probe_dir / 'test_metrics.json').read_text())
metrics"""),
    new_markdown_cell('## Training curves from the TensorBoard event files'),
    new_code_cell("""\
import matplotlib.pyplot as plt
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

events = EventAccumulator(str(pretrain_dir))
events.Reload()
losses = sorted(t for t in events.Tags()['scalars'] if t.startswith('train/') and 'loss' in t)
fig, ax = plt.subplots(figsize=(6, 3.5))
for tag in losses:
    scalars = events.Scalars(tag)
    ax.plot([s.step for s in scalars], [s.value for s in scalars], label=tag)
ax.set_xlabel('optimizer step')
ax.set_ylabel('loss')
ax.legend(fontsize='small')
assert losses, events.Tags()['scalars']"""),
]

FEATURES = [
    new_markdown_cell(
        '# PCA maps: student vs frozen optical teacher\n\n'
        "The paper's qualitative figure: the first three principal components of patch features "
        "as RGB. Here teacher and student share one basis (the teacher's), so matching colours "
        'mean matching features, and a cosine map shows where they agree. A tiny student is '
        'pretrained here against a tiny random teacher, and compared with a random one.'
    ),
    new_code_cell(PARAMETERS + PAIR_PARAMETERS),
    new_code_cell(GENERATE),
    new_code_cell(PAIR),
    new_code_cell(BATCHES),
    new_code_cell("""\
from IPython.display import display

from dtcd.analysis.feature_maps import distillation_pictures, render

# The pictures TensorBoard shows during pretraining (features/ images): the input, the teacher's
# tokens and the student's patch-head outputs in ONE PCA basis (fitted on the teacher), and
# their per-patch cosine. The untrained reference is the same architecture with random weights
# and fresh heads. With DTCD_CHECKPOINT, only the student's weights are loaded (the heads live in
# the training module), so this cell compares modules made here.
reference = DistillationModule(
    random_student,
    [
        SelfDistillation(MCRObjective(out_dim=64, hidden_dim=128)),
        OpticalDistillation(teacher, hidden_dim=128),
    ],
    MultiCrop(global_size=64, local_size=32, num_local=2, blur_kernel_size=9),
)
images = next(batches(1))[:4]
pictures = {}
candidates = {'random': reference} if CHECKPOINT else {'pretrained': module, 'random': reference}
for name, candidate in candidates.items():
    every_pair = distillation_pictures(candidate, images, size=SIZE)
    pictures[name] = next(p for p in every_pair if p.teacher == 'optical')
    print(f'{name}: mean patch cosine with the teacher {pictures[name].mean_cosine:.3f}')
for name, picture in pictures.items():
    figure = render(picture)
    figure.suptitle(f'{name}: {figure._suptitle.get_text()}')
    display(figure)
assert all(-1 <= p.mean_cosine <= 1 for p in pictures.values())"""),
]

CKA = [
    new_markdown_cell(
        '# CKA of the student with its optical teacher, on RGB and on MS input\n\n'
        "The paper's §1 analysis: linear CKA (Kornblith et al. 2019) between student and "
        'DINOv3 patch features is 0.65 for DEO on optical input but 0.15 on multispectral input '
        '(Copernicus-FM: 0.49 / 0.50), read as DEO adding spectral information beyond RGB. Here '
        'the student reads the same scenes through its RGB stem and its MS stem; tokens are '
        'stride-16 patches (student stage 3, teacher last distilled block).'
    ),
    new_code_cell(PARAMETERS + PAIR_PARAMETERS),
    new_code_cell(GENERATE),
    new_code_cell(PAIR),
    new_code_cell(BATCHES),
    new_code_cell("""\
from dtcd.analysis import linear_cka


def tokens(feature_map: torch.Tensor) -> torch.Tensor:
    return feature_map.flatten(2).transpose(1, 2).flatten(0, 1)  # [B * h * w, C]


ms_bands = data.bands
rgb_index = [ms_bands.index(b) for b in student.bands['rgb']]
features: dict[str, list[torch.Tensor]] = {}
with torch.no_grad():
    for images in batches(2 if TINY else 32):
        pairs = {
            'teacher': teacher(images, ms_bands).maps[-1],
            'student RGB': student.forward_features(images[:, rgb_index], 'rgb')[2],
            'student MS': student.forward_features(images, 'ms')[2],
            'random RGB': random_student.forward_features(images[:, rgb_index], 'rgb')[2],
            'random MS': random_student.forward_features(images, 'ms')[2],
        }
        for name, feature_map in pairs.items():
            features.setdefault(name, []).append(tokens(feature_map))
features = {name: torch.cat(chunks) for name, chunks in features.items()}
cka = {
    name: linear_cka(x, features['teacher']).item()
    for name, x in features.items()
    if name != 'teacher'
}
for name, value in cka.items():
    print(f'CKA({name}, teacher) = {value:.3f}')
assert all(0 <= v <= 1 for v in cka.values())"""),
    new_code_cell("""\
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(list(cka), list(cka.values()), color=['C0', 'C1', 'C7', 'C7'])
ax.axhline(0.65, ls='--', c='C0', lw=1, label='DEO, RGB (paper)')
ax.axhline(0.15, ls='--', c='C1', lw=1, label='DEO, MS (paper)')
ax.set_ylabel('linear CKA with the teacher')
ax.legend(fontsize='small')"""),
]

NOTEBOOKS = {
    '01_quickstart.ipynb': QUICKSTART,
    '02_features.ipynb': FEATURES,
    '03_cka.ipynb': CKA,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` without outputs, with a Python 3 kernel spec."""
    notebook = new_notebook(cells=NOTEBOOKS[name])
    notebook.metadata['kernelspec'] = {
        'display_name': 'Python 3',
        'language': 'python',
        'name': 'python3',
    }
    notebook.metadata['language_info'] = {'name': 'python'}
    for i, cell in enumerate(notebook.cells):  # stable ids keep regenerated files identical
        cell['id'] = f'cell-{i}'
        cell['source'] = cell['source'].rstrip('\n')  # as ruff formats notebook cells
    return notebook


def main() -> None:
    """Write every notebook next to this script."""
    for name in NOTEBOOKS:
        nbformat.write(build(name), HERE / name)
        print(f'wrote {HERE / name}')


if __name__ == '__main__':
    main()
