"""Probe metrics and losses against values computed by hand on tiny cases."""

import pytest
import torch

from dtcd.bands import S2_L1C_13
from dtcd.probes import ChangeDetectionProbe, ProbeData, SegmentationProbe, knn_scores

TINY = {'embed_dim': 16, 'depths': [1, 1, 1, 1], 'num_heads': [1, 1, 2, 2], 'window_size': 4}


def segmentation_probe(ignore_index: int | None = 255, loss: str = 'bce') -> SegmentationProbe:
    probe = SegmentationProbe('random:swin_t', TINY, decoder_channels=8, loss=loss)  # type: ignore[arg-type]
    probe.build(ProbeData('segmentation', S2_L1C_13, ('a', 'b', 'c'), ignore_index))
    return probe


def test_miou_ignores_the_ignore_index_and_matches_hand_values() -> None:
    probe = segmentation_probe()
    target = torch.tensor([[[0, 0, 1, 1], [2, 2, 255, 255]]])
    preds = torch.tensor([[[0, 1, 1, 1], [2, 0, 0, 2]]])  # the 255 pixels' predictions count not
    probe.val_metrics.update(preds, target)
    result = probe.val_metrics.compute()
    # class a: tp 1, fp 1 (pixel (1,1)), fn 1 → 1/3; b: tp 2, fp 1, fn 0 → 2/3; c: tp 1, fn 1 → 1/2
    expected = torch.tensor([1 / 3, 2 / 3, 1 / 2])
    torch.testing.assert_close(result['val/iou'], expected)
    torch.testing.assert_close(result['val/miou'], expected.mean())
    torch.testing.assert_close(result['val/acc'], torch.tensor(4 / 6))


def test_bce_on_one_hot_skips_ignored_pixels() -> None:
    probe = segmentation_probe()
    mask = torch.tensor([[[0, 1], [2, 255]]])
    logits = torch.randn(1, 3, 2, 2)
    loss = probe.compute_loss(logits, mask)
    changed = logits.clone()
    changed[..., 1, 1] = 100.0  # only the ignored pixel differs
    assert torch.equal(probe.compute_loss(changed, mask), loss)
    one_hot = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1]])  # the 3 labelled pixels
    labelled = logits.flatten(2)[0, :, :3].T
    manual = torch.nn.functional.binary_cross_entropy_with_logits(labelled, one_hot)
    torch.testing.assert_close(loss, manual)


def test_cross_entropy_option_ignores_too() -> None:
    probe = segmentation_probe(loss='ce')
    mask = torch.tensor([[[0, 1], [2, 255]]])
    logits = torch.randn(1, 3, 2, 2)
    manual = torch.nn.functional.cross_entropy(logits.flatten(2)[0, :, :3].T, mask.flatten()[:3])
    torch.testing.assert_close(probe.compute_loss(logits, mask), manual)


def test_change_f1_precision_recall_iou_match_hand_values() -> None:
    probe = ChangeDetectionProbe('random:swin_t', TINY, decoder_channels=8)
    probe.build(ProbeData('change', S2_L1C_13, ('no change', 'change')))
    mask = torch.tensor([[[[1, 1, 1, 0], [0, 0, 0, 0]]]])
    logits = torch.tensor([[[[3.0, 2.0, -1.0, 0.5], [-2.0, -3.0, 1.0, -1.0]]]])
    probe.val_metrics.update(probe.predict(logits), mask)
    result = probe.val_metrics.compute()
    tp, fp, fn = 2, 2, 1  # predicted change at (0,0), (0,1), (0,3), (1,2)
    assert result['val/precision'].item() == pytest.approx(tp / (tp + fp))
    assert result['val/recall'].item() == pytest.approx(tp / (tp + fn))
    assert result['val/f1'].item() == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert result['val/iou'].item() == pytest.approx(tp / (tp + fp + fn))


def test_change_probe_output_shape_and_fusions() -> None:
    pair = torch.randn(2, 2, 13, 32, 32)
    for fusion in ('diff', 'concat'):
        probe = ChangeDetectionProbe('random:swin_t', TINY, fusion=fusion, decoder_channels=8)  # type: ignore[arg-type]
        probe.build(ProbeData('change', S2_L1C_13, ('no change', 'change')))
        probe.eval()
        assert probe(pair).shape == (2, 1, 32, 32)
    same = torch.randn(1, 1, 13, 32, 32).expand(1, 2, -1, -1, -1).contiguous()
    fused = probe.pyramid(same)  # the last probe fuses by concatenation
    assert all(torch.equal(*f.chunk(2, dim=1)) for f in fused)


def test_knn_scores_match_a_hand_vote() -> None:
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[1.0, 0.1]])
    scores = knn_scores(bank, labels, query, num_classes=2, k=2, temperature=0.5)
    q = query / query.norm()
    sims = torch.stack([(q * b / b.norm()).sum() for b in bank])  # neighbours: items 0 and 2
    w = torch.softmax(torch.stack([sims[0], sims[2]]) / 0.5, dim=0)
    torch.testing.assert_close(scores, torch.stack([w[0], w[1]])[None])
    multi = knn_scores(bank, torch.tensor([[1.0, 1], [0, 1], [0, 1]]), query, 2, k=3)
    assert multi[0, 1].item() == pytest.approx(1.0)  # every neighbour has label 1
