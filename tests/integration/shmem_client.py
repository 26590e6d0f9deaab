#!/usr/bin/env python3
"""shmem_client.py FILE DEVICE: an application whose IO buffers live in FILE (shared memory the
daemon registered). Maps FILE, writes random blocks from its pages to DEVICE with O_DIRECT, then
reads them back into other pages of FILE and compares. Exit 0 when every byte came back."""
import mmap
import os
import random
import sys

path, device = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR)
size = os.fstat(fd).st_size
memory = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
view = memoryview(memory)
dev = os.open(device, os.O_RDWR | os.O_DIRECT)
half = size // 2
rng = random.Random(11)
written = []
for i in range(64):
    length = 4096 * rng.randint(1, 16)
    at = 4096 * rng.randint(0, (half - length) // 4096)
    data = rng.randbytes(length)
    memory[at:at + length] = data
    # os.pwrite hands the kernel the mapping's own address: no copy in Python either.
    if os.pwrite(dev, view[at:at + length], i * 65536) != length:
        sys.exit(f"short write at block {i}")
    written.append((i * 65536, data))
for position, data in written:
    length = len(data)
    memory[half:half + length] = bytes(length)
    if os.preadv(dev, [view[half:half + length]], position) != length:
        sys.exit(f"short read at {position}")
    if memory[half:half + length] != data:
        sys.exit(f"the data read at {position} is not what was written")
print(f"shmem_client: {len(written)} writes and reads from {path} verified")
