"""The shuffled-targets control hands each image another image's targets, and nothing else."""

import pytest
import torch

from dtcd.augment import MultiCropViews
from dtcd.bands import DEO10
from dtcd.distill import MCRObjective, OpticalDistillation, SelfDistillation, ShuffledTargets
from dtcd.distill.controls import shuffle_batch
from dtcd.models import FrozenTeacher, MultiStemSwin, StageFeatures

TEACHER = {'depth': 2, 'embed_dim': 48, 'num_heads': 2}


def test_shuffle_batch_permutes_images_within_every_view() -> None:
    permutation = torch.tensor([2, 0, 1])
    stacked = torch.arange(2 * 3).view(2, 3, 1).float()  # [V, B, 1]: value = v * 3 + b
    flat = stacked.flatten(0, 1)  # [V·B, 1]
    expected = torch.tensor([[2.0, 0.0, 1.0], [5.0, 3.0, 4.0]])
    assert torch.equal(shuffle_batch(stacked, permutation, 2)[..., 0], expected)
    assert torch.equal(shuffle_batch(flat, permutation, 2)[:, 0], expected.flatten())
    tokens = shuffle_batch(StageFeatures([flat[:, :, None, None]], flat), permutation, 2)
    assert torch.equal(tokens.pooled[:, 0], expected.flatten())
    assert torch.equal(tokens.maps[0].flatten(), expected.flatten())
    with pytest.raises(ValueError, match='batch axis'):
        shuffle_batch(torch.zeros(5, 1), permutation, 2)


@pytest.mark.parametrize('kind', ['ms', 'optical'])
def test_shuffled_teacher_gives_the_same_targets_in_another_order(kind: str) -> None:
    torch.manual_seed(0)
    student = MultiStemSwin(
        None, embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2), window_size=4
    )
    if kind == 'ms':
        teacher = SelfDistillation(MCRObjective(out_dim=8, hidden_dim=16))
    else:
        with pytest.warns(UserWarning, match='RANDOM'):
            frozen = FrozenTeacher(
                'vit_small_patch16_dinov3', None, (0, 1), None, model_kwargs=TEACHER
            )
        teacher = OpticalDistillation(frozen, hidden_dim=16)
    control = ShuffledTargets(teacher)
    control.bind(student)
    assert control.required_passes() == teacher.required_passes()
    assert control.name == teacher.name and control.weight == teacher.weight
    views = MultiCropViews(torch.randn(2, 6, 10, 32, 32), torch.randn(2, 6, 10, 16, 16))
    torch.manual_seed(1)
    shuffled = control.targets(views, DEO10, 0.0)
    torch.manual_seed(1)
    permutation = torch.randperm(6)
    plain = teacher.targets(views, DEO10, 0.0)
    assert not torch.equal(permutation, torch.arange(6))
    if kind == 'ms':
        torch.testing.assert_close(shuffled['views'], plain['views'][:, permutation])
    else:
        order = plain.pooled.unflatten(0, (2, 6))[:, permutation].flatten(0, 1)
        torch.testing.assert_close(shuffled.pooled, order)
