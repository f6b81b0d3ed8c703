"""Every experiment config parses with the real CLI; paper configs demand real teacher weights."""

from pathlib import Path

import pytest
import yaml

from dtcd.main import main
from dtcd.sweep import Sweep

ROOT = Path(__file__).parents[1]
#: Whole configs; deltas (``*_reference.yaml``, ``dino_small.yaml``) name no model class.
PRETRAIN = sorted(
    p
    for p in (ROOT / 'experiments' / 'pretrain').glob('*.yaml')
    if 'class_path' in (yaml.safe_load(p.read_text()).get('model') or {})
)


@pytest.mark.parametrize('config', PRETRAIN, ids=lambda p: p.stem)
def test_config_validates(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(['fit', '--config', str(config), '--print_config'])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed['model']['class_path'] == 'dtcd.pretrain.DistillationModule'


def test_dino_study_is_the_ms_only_row_with_dino(capsys: pytest.CaptureFixture[str]) -> None:
    pretrain = ROOT / 'experiments' / 'pretrain'
    with pytest.raises(SystemExit):
        main(['fit', '--config', str(pretrain / 'demo.yaml'), '--config',
              str(pretrain / 'dino_small.yaml'), '--print_config'])  # fmt: skip
    (teacher,) = yaml.safe_load(capsys.readouterr().out)['model']['init_args']['teachers']
    assert teacher['class_path'] == 'dtcd.distill.SelfDistillation'
    assert teacher['init_args']['objective']['class_path'] == 'dtcd.distill.DINOObjective'
    steps = Sweep.load(ROOT / 'experiments' / 'sweeps' / 'dino_small_scale.yaml').prepare
    variants = [s for s in steps if s.run[0] == 'fit']
    assert len(variants) == 5 and all('dino_small.yaml' in s.run[4] for s in variants)
    changed = [{a for a in s.run[5:] if a.startswith('--model')} for s in variants]
    assert changed[0] == set() and all(len(c) == 1 for c in changed[1:])  # one change each


@pytest.mark.parametrize('name', ['deo_swin_t', 'deo_swin_b'])
def test_paper_configs_require_local_dinov3_weights(name: str, tmp_path: Path) -> None:
    config = ROOT / 'experiments' / 'pretrain' / f'{name}.yaml'
    # LightningCLI re-raises instantiation errors as ValueError; the message is what users read.
    with pytest.raises(
        (FileNotFoundError, ValueError), match='DINOv3 weights are a gated download'
    ):
        main(
            [
                'fit', '--config', str(config),
                '--trainer.accelerator', 'cpu', '--trainer.devices', '1',
                '--trainer.strategy', 'auto', '--trainer.logger', 'false',
                '--data.init_args.root', str(tmp_path),
            ]
        )  # fmt: skip


def test_paper_hyper_parameters_are_the_papers() -> None:
    config = yaml.safe_load((ROOT / 'experiments' / 'pretrain' / 'deo_swin_b.yaml').read_text())
    model = config['model']['init_args']
    assert model['student']['init_args'] == {
        'variant': 'swin_b', 'window_size': 12, 'stems': {'ms': 'deo10', 'rgb': 'rgb'},
        'grad_checkpointing': False,
    }  # fmt: skip
    ema, optical = (t['init_args'] for t in model['teachers'])
    objective = ema['objective']
    assert objective['class_path'] == 'dtcd.distill.MCRObjective'
    mcr = objective['init_args']
    assert (mcr['out_dim'], mcr['eps'], ema['momentum']) == (256, 0.05, [0.996, 1.0])
    assert optical['teacher']['init_args']['blocks'] == [8, 11]
    assert (optical['cls_weight'], optical['patch_weight'], optical['stages']) == (0.5, 0.5, [2, 3])
    crops = model['multicrop']['init_args']
    assert (crops['num_global'], crops['global_size'], crops['num_local'], crops['local_size']) == (
        2, 224, 10, 96
    )  # fmt: skip
    assert (model['lr'], model['weight_decay'], model['clip_grad']) == (5e-4, [0.04, 0.4], 3.0)


@pytest.mark.parametrize('name', ['deo_swin_t', 'deo_swin_b', 'dino_ibot_swin_t'])
def test_paper_configs_save_last_within_each_epoch(name: str) -> None:
    """A preempted 100-epoch run loses minutes, not the epochs since the last kept checkpoint."""
    config = yaml.safe_load((ROOT / 'experiments' / 'pretrain' / f'{name}.yaml').read_text())
    trainer = config['trainer']
    steps_per_epoch = 500_000 // (trainer['devices'] * config['data']['init_args']['batch_size'])
    checkpoints = [
        c['init_args'] for c in trainer['callbacks'] if c['class_path'].endswith('Checkpoint')
    ]
    last = [c for c in checkpoints if c.get('save_last')]
    assert len(last) == 1 and 0 < last[0]['every_n_train_steps'] < steps_per_epoch
    kept = [c for c in checkpoints if c.get('save_top_k') == -1]
    assert len(kept) == 1 and kept[0]['every_n_epochs'] == 10


def printed_config(*files: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    args = [a for f in files for a in ('--config', str(f))]
    with pytest.raises(SystemExit):
        main(['fit', *args, '--print_config'])
    return yaml.safe_load(capsys.readouterr().out)


def test_reference_profile_changes_only_the_documented_switches(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """deo_swin_t_reference.yaml over deo_swin_t.yaml: the authors' EMA teacher mode and fp16;
    everything else as in deo_swin_t.yaml."""
    folder = ROOT / 'experiments' / 'pretrain'
    base = printed_config(folder / 'deo_swin_t.yaml', capsys=capsys)
    reference = printed_config(
        folder / 'deo_swin_t.yaml', folder / 'deo_swin_t_reference.yaml', capsys=capsys
    )
    assert reference['trainer'].pop('precision') == '16-mixed'
    assert base['trainer'].pop('precision') == 'bf16-mixed'
    assert reference['trainer'].pop('logger') != base['trainer'].pop('logger')
    assert reference['trainer'] == base['trainer']
    ema = reference['model']['init_args']['teachers'][0]['init_args']
    assert ema.pop('teacher_mode') == 'train'
    assert base['model']['init_args']['teachers'][0]['init_args'].pop('teacher_mode') == 'eval'
    assert reference['model'] == base['model'] and reference['data'] == base['data']
