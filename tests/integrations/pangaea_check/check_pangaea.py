"""A dtcd export as a PANGAEA encoder, built and run by PANGAEA's own code (not part of the suite).

PANGAEA (yurujaja/pangaea-bench) is not on PyPI and pulls hydra, gdown and wandb, so this runs in a
throwaway environment that sees dtcd's and a checkout of PANGAEA (see README.md here). It composes
``experiments/pangaea/encoder/dtcd_swin.yaml`` with Hydra, instantiates it as PANGAEA's ``run.py``
does, loads the weights, checks the maps against dtcd's own loader, and puts PANGAEA's
``SegUPerNet`` decoder (from its ``configs/decoder/seg_upernet.yaml``) on it: a forward pass and
ten training steps of its decoder. It prints what it measured, recorded in ``RESULT.md``.
"""

import logging
import sys
import tempfile
from pathlib import Path

import pangaea
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from pangaea.decoders.upernet import SegUPerNet
from pangaea.encoders.base import Encoder

ROOT = Path(__file__).parents[3]
sys.path.insert(0, str(ROOT))

from dtcd.bands import DEO10  # noqa: E402
from dtcd.main import main  # noqa: E402
from dtcd.models import MultiStemSwin  # noqa: E402

#: PANGAEA's names of DEO's ten bands, and of the six HLS bands (HLS Burn Scars' input).
PANGAEA_DEO10 = ['B4', 'B3', 'B2', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B11', 'B12']
PANGAEA_HLS6 = ['B2', 'B3', 'B4', 'B8A', 'B11', 'B12']


def demo_export(folder: Path) -> Path:
    """The demo's student architecture (experiments/pretrain/demo.yaml), exported by dtcd."""
    config = yaml.safe_load((ROOT / 'experiments' / 'pretrain' / 'demo.yaml').read_text())
    torch.manual_seed(0)
    student = MultiStemSwin(**config['model']['init_args']['student']['init_args'])
    state = {f'student.{k}': v for k, v in student.state_dict().items()}
    checkpoint = {'state_dict': state, 'hyper_parameters': {'student': student.config()}}
    torch.save(checkpoint, folder / 'last.ckpt')  # as a dtcd fit saves it (student part)
    main(['export', str(folder / 'last.ckpt'), str(folder / 'student.safetensors')])
    return folder / 'student.safetensors'


def encoder_from_yaml(export: Path, bands: list[str]) -> Encoder:
    """As PANGAEA's run.py: ``instantiate(cfg.encoder)``, then ``load_encoder_weights``."""
    overrides = [f'encoder_weights={export}', f'input_bands.optical=[{",".join(bands)}]']
    with initialize_config_dir(str(ROOT / 'experiments/pangaea/encoder'), version_base=None):
        cfg = compose('dtcd_swin', overrides=overrides)
    encoder = instantiate(cfg)
    encoder.load_encoder_weights(logging.getLogger('pangaea'))
    return encoder


def run() -> None:
    print(f'pangaea from {Path(pangaea.__file__).parent}, torch {torch.__version__}')
    folder = Path(tempfile.mkdtemp())
    export = demo_export(folder)
    reference = MultiStemSwin.from_pretrained(export).eval()

    encoder = encoder_from_yaml(export, PANGAEA_DEO10).eval()
    assert isinstance(encoder, Encoder)
    x = torch.randn(2, len(DEO10), 64, 64)
    with torch.no_grad():
        maps = encoder({'optical': x})
        expected = reference.forward_features(x, 'ms')
    diffs = [(a - b).abs().max().item() for a, b in zip(maps, expected, strict=True)]
    print(f'DEO10 bands: stem {encoder.stem!r}, output_dim {encoder.output_dim}, '
          f'max |PANGAEA - dtcd| per stage {diffs}')  # fmt: skip
    assert diffs == [0.0] * 4

    hls = encoder_from_yaml(export, PANGAEA_HLS6).eval()  # lacks B05-B08: dropped, warned
    full = torch.zeros(2, len(DEO10), 64, 64)
    six = torch.randn(2, 6, 64, 64)
    for i, name in enumerate(('B02', 'B03', 'B04', 'B8A', 'B11', 'B12')):
        full[:, DEO10.index(name)] = six[:, i]
    with torch.no_grad():
        got = hls({'optical': six[:, :, None]})  # PANGAEA's [B, C, T=1, H, W] also accepted
        want = reference.forward_features(full, 'ms')
    hls_diff = max((a - b).abs().max().item() for a, b in zip(got, want, strict=True))
    print(f'HLS6 bands: stem {hls.stem!r}, max |maps - dtcd with B05-B08 at 0| {hls_diff:.2e}')
    assert hls_diff < 1e-5

    configs = Path(pangaea.__file__).parents[1] / 'configs'
    decoder_cfg = OmegaConf.load(configs / 'decoder/seg_upernet.yaml')
    decoder_cfg.update({'num_classes': 3, 'finetune': False, 'channels': 64})
    decoder = instantiate(decoder_cfg, encoder=encoder)
    assert isinstance(decoder, SegUPerNet)
    images = {'optical': torch.randn(2, len(DEO10), 1, 64, 64)}
    decoder.eval()
    with torch.no_grad():
        logits = decoder(images, output_shape=torch.Size([64, 64]))
    print(f'SegUPerNet (PANGAEA) on the dtcd encoder: logits {tuple(logits.shape)}')
    assert logits.shape == (2, 3, 64, 64)

    decoder.train()
    frozen = {k: v.clone() for k, v in encoder.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in decoder.parameters() if p.requires_grad], lr=1e-3)
    target = (images['optical'][:, 0, 0] > 0).long()  # learnable from the first band
    losses = []
    for _ in range(10):
        loss = torch.nn.functional.cross_entropy(decoder(images, torch.Size([64, 64])), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(round(loss.item(), 4))
    unchanged = all(torch.equal(frozen[k], v) for k, v in encoder.state_dict().items())
    print(f'10 training steps, frozen encoder (finetune=False): losses {losses}, '
          f'encoder unchanged: {unchanged}')  # fmt: skip
    assert unchanged and losses[-1] < losses[0]
    print('OK')


if __name__ == '__main__':
    run()
