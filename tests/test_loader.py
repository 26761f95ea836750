import numpy as np
import pytest
import torch

from facegan.data.loader import BatchLoader, epoch_order, to_float


def _numbered(n: int, r: int = 4) -> np.ndarray:
    """Image i is filled with value i and has a bright left column, so order and flips are visible."""
    x = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None], r, 1).repeat(r, 2).repeat(3, 3)
    x[:, :, 0, :] = 255
    return x


def _ids(batch: torch.Tensor) -> list[int]:
    return [round(v) for v in ((batch[:, 0, 0, 1] + 1) * 127.5).tolist()]


def test_to_float_range_layout_and_values():
    x = to_float(torch.tensor(_numbered(3)))
    assert x.shape == (3, 3, 4, 4) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert x[0, :, 0, 1].tolist() == [-1.0, -1.0, -1.0] and x[0, 0, 0, 0] == 1.0
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_every_image_once_per_epoch_in_a_seeded_order():
    loader = BatchLoader(_numbered(100), 10, flip=False, seed=3)
    assert len(loader) == 10
    seen = [i for b in loader.epoch(0) for i in _ids(b)]
    assert sorted(seen) == list(range(100))
    assert seen == [i for b in BatchLoader(_numbered(100), 10, flip=False, seed=3).epoch(0) for i in _ids(b)]
    assert seen != [i for b in loader.epoch(1) for i in _ids(b)]
    assert seen != [i for b in BatchLoader(_numbered(100), 10, flip=False, seed=4).epoch(0) for i in _ids(b)]
    assert seen == list(epoch_order(3, 0, 100)[0])


def test_resuming_mid_epoch_gives_the_remaining_batches_exactly():
    loader = BatchLoader(_numbered(64), 8, seed=1)
    full = list(loader.epoch(2))
    tail = list(loader.epoch(2, start=5))
    assert len(tail) == 3
    for a, b in zip(full[5:], tail):
        assert torch.equal(a, b)


def test_flip_mirrors_about_half_of_the_images():
    loader = BatchLoader(_numbered(200), 50, flip=True, seed=0)
    flipped = sum(int((b[:, 0, 0, -1] == 1.0).sum()) for b in loader.epoch(0))
    assert 70 < flipped < 130  # binomial(200, 0.5): 5 sigma is about +-35
    assert all(bool((b[:, 0, 0, 1:-1] != 1.0).all()) for b in loader.epoch(0))
    unflipped = BatchLoader(_numbered(200), 50, flip=False)
    assert all(bool((b[:, 0, 0, 0] == 1.0).all()) for b in unflipped.epoch(0))


def test_last_partial_batch_is_dropped_and_tiny_sets_still_train():
    assert len(BatchLoader(_numbered(25), 10, flip=False)) == 2
    tiny = BatchLoader(_numbered(5), 128, flip=False)
    assert tiny.batch_size == 5 and len(tiny) == 1


def test_ranks_take_disjoint_shards_of_the_same_order():
    shards = [[i for b in BatchLoader(_numbered(40), 5, flip=False, rank=r, world=2).epoch(0)
               for i in _ids(b)] for r in range(2)]
    assert not set(shards[0]) & set(shards[1]) and len(shards[0]) == len(shards[1]) == 20
    with pytest.raises(ValueError):
        BatchLoader(_numbered(1), 4, world=2)


def test_cpu_batches_equal_the_device_formula():
    """The CPU path (numpy) and the accelerator path (torch's to_float) give the same numbers."""
    x = np.random.default_rng(0).integers(0, 256, (40, 6, 5, 3), dtype=np.uint8)
    loader = BatchLoader(x, 8, flip=True, seed=2)
    order, flips = epoch_order(2, 0, 40)
    for i, batch in enumerate(loader.epoch(0)):
        u8 = torch.from_numpy(x[order[i * 8:(i + 1) * 8]])
        mask = torch.from_numpy(flips[i * 8:(i + 1) * 8])[:, None, None, None]
        expected = to_float(torch.where(mask, u8.flip(2), u8))
        assert torch.equal(batch, expected)
