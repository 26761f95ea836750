"""The PyTorch DCGAN tutorial (pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html), as users run it.

The reference that ``train_throughput.py`` and ``quality_budget.py`` measure facegan against: the
tutorial's exact networks (``nn.Sequential`` G and D, D ending in Sigmoid), its weight init, BCELoss,
Adam 2e-4 (0.5, 0.999), its input pipeline (ImageFolder + Resize/CenterCrop/ToTensor/Normalize in a
DataLoader with 2 workers) and its loop, ``.item()`` calls, progress print every 50 iterations and
fixed-noise grid every 500 included. Only the plotting at the end is left out.

As a script it trains until stopped, then saves G (SIGINT stops it after the current iteration);
SIGUSR1 saves G now, as ``OUT.snapshot-K.pt`` for the K-th signal, and training goes on::

    python benchmarks/reference_dcgan.py DATAROOT OUT.pt
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

NC, NZ, NGF, NDF = 3, 100, 64, 64
IMAGE_SIZE, BATCH_SIZE, WORKERS, LR, BETA1 = 64, 128, 2, 0.0002, 0.5


def weights_init(m: nn.Module) -> None:
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 8), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 8, NGF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 4), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2), nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(True),
            nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 4, NDF * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, input):
        return self.main(input)


def dataloader(dataroot: str | Path, workers: int = WORKERS) -> torch.utils.data.DataLoader:
    import torchvision.datasets as dset
    import torchvision.transforms as transforms
    dataset = dset.ImageFolder(root=str(dataroot), transform=transforms.Compose([
        transforms.Resize(IMAGE_SIZE), transforms.CenterCrop(IMAGE_SIZE), transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
    return torch.utils.data.DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=workers)


class Tutorial:
    """The tutorial's state: networks, loss, optimisers, fixed noise, loss lists, iteration count."""

    def __init__(self, seed: int = 999, device: str = "cpu"):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)  # as the tutorial does, "for reproducible results"
        self.device = torch.device(device)
        self.netG, self.netD = Generator().to(self.device), Discriminator().to(self.device)
        self.netG.apply(weights_init)
        self.netD.apply(weights_init)
        self.criterion = nn.BCELoss()
        self.fixed_noise = torch.randn(64, NZ, 1, 1, device=self.device)
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=LR, betas=(BETA1, 0.999))
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=LR, betas=(BETA1, 0.999))
        self.img_list, self.G_losses, self.D_losses = [], [], []
        self.iters = 0

    def steps(self, dataloader, num_epochs: int = 10**9) -> Iterator[int]:
        """The tutorial's training loop, yielding after every iteration (the batch size)."""
        import torchvision.utils as vutils
        real_label, fake_label = 1., 0.
        netD, netG, criterion, device = self.netD, self.netG, self.criterion, self.device
        for epoch in range(num_epochs):
            for i, data in enumerate(dataloader, 0):
                netD.zero_grad()
                real_cpu = data[0].to(device)
                b_size = real_cpu.size(0)
                label = torch.full((b_size,), real_label, dtype=torch.float, device=device)
                output = netD(real_cpu).view(-1)
                errD_real = criterion(output, label)
                errD_real.backward()
                D_x = output.mean().item()
                noise = torch.randn(b_size, NZ, 1, 1, device=device)
                fake = netG(noise)
                label.fill_(fake_label)
                output = netD(fake.detach()).view(-1)
                errD_fake = criterion(output, label)
                errD_fake.backward()
                D_G_z1 = output.mean().item()
                errD = errD_real + errD_fake
                self.optimizerD.step()

                netG.zero_grad()
                label.fill_(real_label)
                output = netD(fake).view(-1)
                errG = criterion(output, label)
                errG.backward()
                D_G_z2 = output.mean().item()
                self.optimizerG.step()

                if i % 50 == 0:
                    print('[%d/%d][%d/%d]\tLoss_D: %.4f\tLoss_G: %.4f\tD(x): %.4f\tD(G(z)): %.4f / %.4f'
                          % (epoch, num_epochs, i, len(dataloader), errD.item(), errG.item(), D_x, D_G_z1,
                             D_G_z2), file=sys.stderr)
                self.G_losses.append(errG.item())
                self.D_losses.append(errD.item())
                if self.iters % 500 == 0:
                    with torch.no_grad():
                        fake = netG(self.fixed_noise).detach().cpu()
                    self.img_list.append(vutils.make_grid(fake, padding=2, normalize=True))
                self.iters += 1
                yield b_size


def main() -> None:
    ap = argparse.ArgumentParser(description="Train the DCGAN tutorial until SIGINT, then save G.")
    ap.add_argument("dataroot", help="an ImageFolder root (one class folder of JPEGs)")
    ap.add_argument("out", help="where to save G's state_dict (.pt) and a .json of what was done")
    args = ap.parse_args()
    stop, snapshots = [], []
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    signal.signal(signal.SIGUSR1, lambda *_: snapshots.append(True))
    tut, images, t0, saved = Tutorial(), 0, time.perf_counter(), 0
    for n in tut.steps(dataloader(args.dataroot)):
        images += n
        while saved < len(snapshots):  # asked for snapshots: G as it is now
            saved += 1
            save(tut, images, t0, Path(args.out).with_suffix(f".snapshot-{saved}.pt"))
        if stop:
            break
    save(tut, images, t0, Path(args.out))


def save(tut: Tutorial, images: int, t0: float, out: Path) -> None:
    """G's weights to ``out`` and what was done to ``out`` with .json, each complete before it appears."""
    torch.save(tut.netG.state_dict(), out.with_suffix(".tmp"))
    out.with_suffix(".tmp").replace(out)
    out.with_suffix(".json.tmp").write_text(json.dumps(
        {"iterations": tut.iters, "images": images, "seconds_since_start": time.perf_counter() - t0}))
    out.with_suffix(".json.tmp").replace(out.with_suffix(".json"))


if __name__ == "__main__":
    main()
