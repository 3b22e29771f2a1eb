#!/usr/bin/env python3
"""Writes the binary seeds of the loader, virtio, port-I/O, PMU and ACPI fuzz
targets into tests/fuzz/corpus/<target>/: minimal valid inputs in each
target's layout (fuzz_boot.h, fuzz_virtq.c, fuzz_virtio_mmio.c, fuzz_pio.c,
fuzz_pmu_msr.c, fuzz_acpi.c, fuzz_dev_snap.c, fuzz_mmds_frame.c), so that the
fuzzer starts inside the parsers instead of at their first magic check. The files are committed; rerun this
after changing a layout (the output is the same byte for byte otherwise)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(b, off, fmt, *v):
    struct.pack_into("<" + fmt, b, off, *v)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# ---- kernel images (fuzz_boot.h: opt, cmdline length, initrd size, cmdline, image)

def boot_input(img, opt=0, cmdline=b"console=ttyS0", initrd=0):
    return bytes([opt | (4 if initrd else 0), len(cmdline), initrd]) + cmdline + bytes(img)


def xen_note(entry, descsz):
    n = bytearray(12 + 4 + descsz)
    put(n, 0, "III", 4, descsz, 18)
    n[12:16] = b"Xen\0"
    put(n, 16, "Q" if descsz == 8 else "I", entry)
    return n


def elf64(entry, vaddr, paddr, memsz, note=None, note_in_section=False):
    b = bytearray(0x300)
    b[0:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    # e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags,
    # e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
    put(b, 16, "HHIQQQIHHHHHH", 2, 62, 1, entry, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    put(b, 64, "IIQQQQQQ", 1, 7, 0x200, vaddr, paddr, 0x100, memsz, 0x1000)
    if note:
        b[0x100:0x100 + len(note)] = note
        if note_in_section:
            put(b, 64 + 56, "IIQQQQQQ", 0, 0, 0, 0, 0, 0, 0, 0)
            put(b, 0x28, "Q", 0x180)                # e_shoff
            put(b, 0x3a, "HH", 64, 2)               # e_shentsize, e_shnum
            put(b, 0x180 + 64, "IIQQQQIIQQ", 0, 7, 0, 0, 0x100, len(note), 0, 0, 4, 0)
        else:
            put(b, 64 + 56, "IIQQQQQQ", 4, 4, 0x100, 0, 0, len(note), len(note), 4)
    for i in range(0x100):
        b[0x200 + i] = (i * 7 + 1) & 0xff
    return b


def mb_header(flags):
    return struct.pack("<III", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xffffffff)


def elf32(pvh):
    b = bytearray(0x300)
    b[0:16] = b"\x7fELF\x01\x01\x01" + bytes(9)
    put(b, 16, "HHIIIIIHHHHHH", 2, 3, 1, 0x100040, 52, 0, 0, 52, 32, 2, 40, 0, 0)
    put(b, 52, "IIIIIIII", 1, 0x200, 0x100000, 0x100000, 0x100, 0x1000, 7, 0x1000)
    if pvh:
        n = xen_note(0x100010, 4)
        b[0x100:0x100 + len(n)] = n
        put(b, 52 + 32, "IIIIIIII", 4, 0x100, 0, 0, len(n), len(n), 4, 4)
    b[0x200:0x20c] = mb_header(3)
    return b


def bzimage(version=0x20f, init_size=0x80000):
    b = bytearray(5 * 512 + 0x400)
    b[0x1f1] = 4                              # setup_sects
    put(b, 0x1f4, "I", 0x400 // 16)           # syssize
    put(b, 0x1fe, "H", 0xaa55)
    b[0x200:0x202] = b"\xeb\x6a"              # jump: header ends at 0x26c
    b[0x202:0x206] = b"HdrS"
    put(b, 0x206, "H", version)
    b[0x211] = 1                              # LOADED_HIGH
    put(b, 0x22c, "I", 0x37ffffff)            # initrd_addr_max
    put(b, 0x230, "I", 0x100000)              # kernel_alignment
    b[0x234] = 1                              # relocatable
    put(b, 0x236, "H", 3)                     # XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G
    put(b, 0x238, "I", 2047)                  # cmdline_size
    put(b, 0x258, "Q", 0x100000)              # pref_address
    put(b, 0x260, "I", init_size)
    return b


def mb_kludge(bss_end=0x101000):
    b = bytearray(0x400)
    for i in range(0x400):
        b[i] = (i * 7 + 1) & 0xff
    b[0] = 0x90
    h = mb_header(0x10003) + struct.pack("<IIIII", 0x100040, 0x100000, 0, bss_end, 0x100080)
    b[0x40:0x40 + len(h)] = h
    return b


def boot_seeds():
    pvh64 = elf64(0x100000, 0x100000, 0x100000, 0x3000, xen_note(0x100020, 8))
    write("fuzz_boot_elf", "pvh64.bin", boot_input(pvh64))
    write("fuzz_boot_elf", "pvh64_initrd.bin", boot_input(pvh64, opt=8, initrd=3))
    write("fuzz_boot_elf", "pvh64_shnote.bin",
          boot_input(elf64(0x100000, 0x100000, 0x100000, 0x3000, xen_note(0x100020, 8), True)))
    vml = elf64(0xffffffff81000040, 0xffffffff81000000, 0x100000, 0x4000)
    write("fuzz_boot_elf", "vmlinux.bin", boot_input(vml, opt=3))
    write("fuzz_boot_elf", "elf32_mb.bin", boot_input(elf32(False), initrd=2))
    write("fuzz_boot_elf", "elf32_pvh.bin", boot_input(elf32(True), opt=2))
    write("fuzz_boot_bzimage", "bzimage.bin", boot_input(bzimage()))
    write("fuzz_boot_bzimage", "bzimage_initrd.bin", boot_input(bzimage(), opt=11, initrd=5))
    write("fuzz_boot_bzimage", "bzimage_old.bin", boot_input(bzimage(version=0x20b)))
    write("fuzz_boot_multiboot", "kludge.bin", boot_input(mb_kludge()))
    write("fuzz_boot_multiboot", "kludge_initrd.bin",
          boot_input(mb_kludge(0), opt=9, cmdline=b"", initrd=7))


# ---- virtqueues (fuzz_virtq.c: size, flags, desc/avail/used >> 6, features, nops, 0)

DESC, AVAIL, USED, TABLE, BUF = 0x000, 0x100, 0x200, 0x300, 0x400


def desc(i, addr, length, flags, nxt, base=DESC):
    return (base + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))


def ring_image(descs, heads, size=8, used_event=0):
    ram = bytearray(0x800)
    for off, d in descs:
        ram[off:off + len(d)] = d
    put(ram, AVAIL, "HH", 0, len(heads))
    for i, h in enumerate(heads):
        put(ram, AVAIL + 4 + 2 * i, "H", h)
    put(ram, AVAIL + 4 + 2 * size, "H", used_event)
    return ram


def virtq_input(ops, ram, features=3, size_log2=3):
    hdr = bytes([size_log2, 0, DESC >> 6, AVAIL >> 6, USED >> 6, features, len(ops), 0])
    return hdr + bytes(ops) + bytes(ram)


NEXT, WRITE, INDIRECT = 1, 2, 4


def virtq_seeds():
    blk = [desc(0, BUF, 16, NEXT, 1), desc(1, BUF + 0x100, 512, NEXT | WRITE, 2),
           desc(2, BUF + 0x300, 1, WRITE, 0)]
    ind = [desc(3, TABLE, 48, INDIRECT, 0), desc(0, BUF, 16, NEXT, 1, TABLE),
           desc(1, BUF + 0x100, 64, NEXT | WRITE, 2, TABLE), desc(2, BUF + 0x200, 1, WRITE, 0, TABLE)]
    loop = [desc(5, BUF, 8, NEXT, 6), desc(6, BUF, 8, NEXT, 5)]
    serve = [3, 4, 0, 0, 5, 6, 3]
    write("fuzz_virtq", "chain.bin", virtq_input(serve, ring_image(blk, [0])))
    write("fuzz_virtq", "indirect.bin", virtq_input(serve + [2], ring_image(ind + blk, [3, 0])))
    write("fuzz_virtq", "loop.bin", virtq_input(serve, ring_image(loop + blk, [5, 0])))
    write("fuzz_virtq", "driver_writes.bin",
          virtq_input([0, 7, 0x01, 0x02, 2, 0, 3], ring_image(blk, [0, 0])))


# ---- virtio-mmio (fuzz_virtio_mmio.c: device, nops, ops, RAM)

STATUS, DRV_FEAT, DRV_FEAT_SEL, Q_SEL, Q_NUM, Q_READY, Q_NOTIFY = 0x70, 0x20, 0x24, 0x30, 0x38, 0x44, 0x50
Q_DESC, Q_AVAIL, Q_USED, ISR, ISR_ACK = 0x80, 0x90, 0xa0, 0x60, 0x64


def wr(off, v):
    return bytes([0, off >> 2]) + struct.pack("<I", v)


def rd(off):
    return bytes([1, off >> 2])


def driver_init(features_lo):
    ops = wr(STATUS, 0) + wr(STATUS, 1) + wr(STATUS, 3) + rd(0x10)
    ops += wr(DRV_FEAT_SEL, 0) + wr(DRV_FEAT, features_lo) + wr(DRV_FEAT_SEL, 1) + wr(DRV_FEAT, 1)
    ops += wr(STATUS, 0xb) + wr(Q_SEL, 0) + wr(Q_NUM, 8) + wr(Q_DESC, DESC) + wr(Q_AVAIL, AVAIL)
    ops += wr(Q_USED, USED) + wr(Q_READY, 1) + wr(STATUS, 0xf)
    return ops


def mmio_input(dev, ops, ram):
    assert len(ops) < 256
    return bytes([dev, len(ops)]) + ops + bytes(ram)


def blk_request(typ, sector, data_len, data_write):
    d = [desc(0, BUF, 16, NEXT, 1), desc(1, BUF + 0x100, data_len, NEXT | (WRITE if data_write else 0), 2),
         desc(2, BUF + 0x300, 1, WRITE, 0)]
    ram = ring_image(d, [0])
    put(ram, BUF, "IIQ", typ, 0, sector)
    return ram


def net_seeds():
    # Queue 0 (receive) rings at 0x000, queue 1 (transmit) at 0x800.
    tx_ring = 0x800
    ops = driver_init(0b100011)[:-6]                         # CSUM, GUEST_CSUM, MAC; not DRIVER_OK yet
    ops += wr(Q_SEL, 1) + wr(Q_NUM, 8) + wr(Q_DESC, tx_ring) + wr(Q_AVAIL, tx_ring + 0x100)
    ops += wr(Q_USED, tx_ring + 0x200) + wr(Q_READY, 1) + wr(STATUS, 0xf)
    frame = bytes(12) + b"\xff" * 6 + b"\x52\x54\x00\x12\x34\x56" + b"\x88\xb5" + b"fuzz"
    ops += wr(Q_NOTIFY, 1) + wr(Q_NOTIFY, 0) + bytes([0xc2, len(frame)]) + frame + rd(ISR)
    rx = [desc(0, 0x1000, 0x600, WRITE, 0)]
    tx = [desc(0, 0xc00, 12 + 60, 0, 0, tx_ring)]
    ram = bytearray(0x1600)
    ram[:0x800] = ring_image(rx, [0])
    ram[0x800:0x1000] = ring_image([(o - tx_ring, d) for o, d in tx], [0])
    put(ram, 0xc00, "BBHHHHH", 1, 0, 0, 0, 14, 16, 0)        # NEEDS_CSUM at 14+16
    write("fuzz_virtio_mmio", "net.bin", mmio_input(6, ops, ram))


def two_queue_init(features_lo, q1_ring):
    """driver_init for queue 0, then queue 1 at q1_ring, then DRIVER_OK."""
    ops = driver_init(features_lo)[:-6]
    ops += wr(Q_SEL, 1) + wr(Q_NUM, 8) + wr(Q_DESC, q1_ring) + wr(Q_AVAIL, q1_ring + 0x100)
    ops += wr(Q_USED, q1_ring + 0x200) + wr(Q_READY, 1) + wr(STATUS, 0xf)
    return ops


def vsock_balloon_seeds():
    # vsock: a REQUEST to host port 5 (nobody listens: the device owes an RST,
    # which it writes into the receive buffer of queue 0).
    tx_ring = 0x800
    ops = two_queue_init(0, tx_ring) + wr(Q_NOTIFY, 1) + wr(Q_NOTIFY, 0) + rd(ISR)
    rx = [desc(0, 0x1000, 0x100, WRITE, 0)]
    tx = [desc(0, 0xc00, 44, 0, 0, tx_ring)]
    ram = bytearray(0x1200)
    ram[:0x800] = ring_image(rx, [0])
    ram[0x800:0x1000] = ring_image([(o - tx_ring, d) for o, d in tx], [0])
    put(ram, 0xc00, "QQIIIHHIII", 3, 2, 1000, 5, 0, 1, 1, 0, 65536, 0)
    write("fuzz_virtio_mmio", "vsock_request.bin", mmio_input(0x08, ops, ram))
    # balloon: inflate page frames 2 and 3 (and one outside RAM).
    ops = driver_init(0) + wr(Q_NOTIFY, 0) + rd(ISR)
    ram = ring_image([desc(0, BUF, 12, 0, 0)], [0])
    put(ram, BUF, "III", 2, 3, 0x100000)
    write("fuzz_virtio_mmio", "balloon_inflate.bin", mmio_input(0x10, ops, ram))


def mmio_seeds():
    tail = wr(Q_NOTIFY, 0) + rd(ISR) + wr(ISR_ACK, 1) + bytes([2 | (3 << 2), 0x10, 0x00])
    rng = ring_image([desc(0, BUF, 64, WRITE, 0)], [0])
    write("fuzz_virtio_mmio", "rng.bin", mmio_input(0, driver_init(1 << 29) + tail, rng))
    blk_feat = (1 << 2) | (1 << 9) | (1 << 28)
    write("fuzz_virtio_mmio", "blk_read.bin", mmio_input(5, driver_init(blk_feat) + tail,
                                                       blk_request(0, 1, 512, True)))
    write("fuzz_virtio_mmio", "blk_write.bin", mmio_input(5, driver_init(blk_feat) + tail,
                                                        blk_request(1, 2, 512, False)))
    write("fuzz_virtio_mmio", "blk_write_ro.bin", mmio_input(7, driver_init(blk_feat | 1 << 5) + tail,
                                                           blk_request(1, 2, 512, False)))
    write("fuzz_virtio_mmio", "blk_get_id.bin", mmio_input(5, driver_init(blk_feat) + tail,
                                                         blk_request(8, 0, 20, True)))
    write("fuzz_virtio_mmio", "blk_flush.bin", mmio_input(5, driver_init(blk_feat) + tail,
                                                        blk_request(4, 0, 0, True)))


# ---- port I/O (fuzz_pio.c: host input length, host input, 3-byte accesses)

def pio_w(idx, v):
    return bytes([idx, 8, v])


def pio_r(idx):
    return bytes([idx, 0, 0])


def pio_input(accesses, host_input=b""):
    return bytes([len(host_input)]) + host_input + b"".join(accesses)


def pio_seeds():
    uart = [pio_w(3, 0x80), pio_w(0, 1), pio_w(1, 0), pio_w(3, 3), pio_w(2, 0xc7), pio_w(4, 0x0b),
            pio_w(1, 0x0f)] + [pio_w(0, c) for c in b"hi\n"] + [pio_r(2), pio_r(5), pio_r(0), pio_r(0),
                                                              pio_r(6), pio_r(7)]
    write("fuzz_pio", "uart.bin", pio_input(uart, b"ok\r"))
    loop = [pio_w(4, 0x10), pio_w(1, 1), pio_w(0, 0x41), pio_r(5), pio_r(2), pio_r(0), pio_r(6)]
    write("fuzz_pio", "uart_loopback.bin", pio_input(loop))
    write("fuzz_pio", "uart_escape.bin", pio_input([pio_r(0)] * 4, b"a\x01\x01b\x01hc\x01x"))
    kbd = [pio_w(9, 0xaa), pio_r(8), pio_w(9, 0x20), pio_r(8), pio_w(9, 0x60), pio_w(8, 0x45),
           pio_w(8, 0xff), pio_r(8), pio_r(8), pio_w(8, 0xf2), pio_r(8), pio_r(8), pio_r(8),
           pio_w(9, 0xa9), pio_r(8), pio_w(9, 0xd2), pio_w(8, 0x1c), pio_r(9), pio_r(8),
           bytes([0xff, 0, 0]), pio_r(8), pio_w(9, 0xd1), pio_w(8, 0x00)]
    write("fuzz_pio", "i8042.bin", pio_input(kbd))
    write("fuzz_pio", "i8042_reset.bin", pio_input([pio_w(9, 0xfe)]))
    plat = [pio_w(14, 123), pio_w(15, 2), pio_r(15), pio_w(10, 0x20 | (5 << 2)), pio_r(11),
            pio_w(15, 6), pio_w(12, 0x31)]
    write("fuzz_pio", "platform.bin", pio_input(plat))


# ---- soft PMU MSRs (fuzz_pmu_msr.c: 4 shape bytes, filter, 10-byte ops)
# An op's MSR byte: high nibble picks the range (PMC0, PERFEVTSEL0, FIXED_CTR0,
# A_PMC0, FIXED_CTR_CTRL.., PERF_CAPABILITIES), low nibble the index + 2.

def pmu_op(kind, msr_byte, value):
    return bytes([kind, msr_byte]) + struct.pack("<Q", value)


def pmu_seeds():
    shape = bytes([1 | (4 << 1) | (3 << 5), 16, 16, 0, 0xff])   # v2, 4 GP, 3 fixed, 48 bits
    evt = 0x3c | (1 << 16) | (1 << 17) | (1 << 20) | (1 << 22)  # core cycles, USR OS INT EN
    ops = [pmu_op(1, 0x12, evt), pmu_op(1, 0x32, (1 << 48) - 16), pmu_op(1, 0x4 + 0x40 + 2, 0xf),
           pmu_op(1, 0x40 + 2, 0xb0), pmu_op(1, 0x21 + 2, (1 << 48) - 3), pmu_op(0, 0x40 + 3, 0),
           pmu_op(2, 0, 100), pmu_op(0, 0x40 + 3, 0), pmu_op(1, 0x40 + 5, (1 << 32) | 1),
           pmu_op(0, 0x02, 0), pmu_op(0, 0x52, 0), pmu_op(1, 0x02, 0xffffffff)]
    write("fuzz_pmu_msr", "v2_counting.bin", shape + b"".join(ops))
    v1 = bytes([0 | (2 << 1), 0, 0, 0, 0xff])
    write("fuzz_pmu_msr", "v1.bin", v1 + b"".join([pmu_op(1, 0x12, evt), pmu_op(1, 0x02, 0xfffffff0),
                                                   pmu_op(2, 0, 64), pmu_op(0, 0x02, 0)]))


# ---- ACPI tables (fuzz_acpi.c: ncpus, flags, pm_port, addr, APIC ids, 6-byte devices)

def acpi_dev(index, gsi_off, hid):
    return struct.pack("<I", index) + bytes([gsi_off, hid])


def acpi_seeds():
    head = bytes([2, 7, 0x06, 0x00, 0, 0, 0, 0]) + bytes(2)
    devs = b"".join(acpi_dev(i, i, 0) for i in range(3))
    write("fuzz_acpi", "microvm.bin", head + devs)
    big = bytes([32, 3, 0, 0, 0, 0, 0xc0, 0xfe]) + bytes(32)
    write("fuzz_acpi", "32cpus_18devs.bin", big + b"".join(acpi_dev(i, i, 0) for i in range(18)))


# ---- device snapshot sections (fuzz_dev_snap.c: device byte + base/snap.h stream)

def section(tag, version, payload):
    return tag + struct.pack("<IQ", version, len(payload)) + payload


def snap_str(s):
    return struct.pack("<I", len(s)) + s


def virt_section(kind, ident, features, queues, model=b""):
    p = struct.pack("<II", 0, kind) + snap_str(ident) + struct.pack("<QI", 0xD0000000, 10)
    p += struct.pack("<IQIIIIII", 0xf, features, 1, 1, 0, 1, 0, len(queues))
    for (size, desc, enabled, last) in queues:
        p += struct.pack("<HQQQBHHHB", size, desc, desc + 0x100, desc + 0x200, enabled,
                         last, last, last, 1)
    return section(b"VIRT", 1, p + model)


def dev_snap_seeds():
    uart = section(b"UART", 1, struct.pack("<H", 0x3f8) + bytes([1, 3, 0x1b, 0xc1, 0x5a, 1, 0, 0, 0xb0])
                   + bytes([1, 0]) + snap_str(b"hi") + snap_str(b"ls\n"))
    kbdc = section(b"KBDC", 1, bytes([0x47, 0, 0, 0, 0, 2, 0, 1]) + snap_str(bytes([0x1d, 0x38])))
    common = (1 << 32) | (1 << 28) | (1 << 29)
    rng = virt_section(2, b"entropy", common, [(8, 0x1000, 1, 5)])
    write("fuzz_dev_snap", "uart_kbdc_rng.bin", b"\x00" + uart + kbdc + rng)
    model = struct.pack("<IIIBH", 4, 2, 1, 1, 3) + struct.pack("<10q", *range(10)) + struct.pack("<QQ", 64, 0)
    balloon = virt_section(4, b"balloon", common | (1 << 1),
                           [(8, 0x1000, 1, 2), (8, 0x2000, 1, 0), (8, 0x3000, 1, 4)], model)
    write("fuzz_dev_snap", "balloon.bin", b"\x01" + uart + kbdc + balloon)
# ---- MMDS frames (fuzz_mmds_frame.c: records of flags, 16-bit length, frame)

def csum(b):
    if len(b) % 2:
        b = b + b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


GUEST_MAC, MMDS_MAC = bytes([6, 0, 10, 0, 3, 2]), bytes([6, 1, 0x23, 0x45, 0x67, 1])
GUEST_IP, MMDS_IP = bytes([10, 0, 3, 2]), bytes([169, 254, 169, 254])


def tcp_frame(seq, ack, flags, data=b"", mss=False):
    opt = struct.pack("!BBH", 2, 4, 1460) if mss else b""
    th = bytearray(struct.pack("!HHIIBBHHH", 41000, 80, seq, ack, (20 + len(opt)) // 4 << 4, flags,
                               65535, 0, 0) + opt) + data
    pseudo = GUEST_IP + MMDS_IP + struct.pack("!BBH", 0, 6, len(th))
    struct.pack_into("!H", th, 16, csum(pseudo + bytes(th)))
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(th), 0, 0x4000, 64, 6, 0,
                               GUEST_IP, MMDS_IP))
    struct.pack_into("!H", ip, 10, csum(bytes(ip)))
    return MMDS_MAC + GUEST_MAC + b"\x08\x00" + bytes(ip) + bytes(th)


def arp_request():
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, GUEST_MAC, GUEST_IP, bytes(6), MMDS_IP)
    return b"\xff" * 6 + GUEST_MAC + b"\x08\x06" + body


def rec(flags, frame):
    return bytes([flags]) + struct.pack("!H", len(frame)) + frame


def iss(now=1000000000000, ip=0xa9fea9fe):
    m = (1 << 64) - 1
    x = (0x9e3779b97f4a7c15 ^ ip) ^ now
    x ^= (x << 13) & m
    x ^= x >> 7
    x ^= (x << 17) & m
    return (x >> 16) & 0xffffffff


def mmds_seeds():
    big = 0xf0  # the largest receive buffer
    get = b"GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"
    # The guest's ACKs acknowledge the stack's first ISN, which is
    # reproducible (mmds/ns.c next_iss at the target's starting time).
    a = iss() + 1
    write("fuzz_mmds_frame", "arp.bin", rec(big, arp_request()))
    write("fuzz_mmds_frame", "syn_get.bin", rec(big, tcp_frame(100, 0, 0x02, mss=True)) +
          rec(big, tcp_frame(101, a, 0x10)) + rec(big, tcp_frame(101, a, 0x18, get)))
    tok = b"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n"
    write("fuzz_mmds_frame", "v2_token.bin", rec(big | 2, tcp_frame(7, 0, 0x02, mss=True)) +
          rec(big | 2, tcp_frame(8, a, 0x18, tok)) + rec(big | 2 | 4, tcp_frame(8 + len(tok), a, 0x11)))
    write("fuzz_mmds_frame", "partial_csum.bin", rec(big | 1, tcp_frame(5, 0, 0x02)))


# ---- PMU snapshot sections (fuzz_pmu_snap.c: setup byte, then a state stream of
# sections PMU_ and PMUV; the layout is docs/snapshot-pmu.md's)

def snap_section(tag, payload, version=1):
    return tag + struct.pack("<IQ", version, len(payload)) + payload


def snap_head(mode, requested, why, shape, nvcpus, filt=None):
    # shape: flavour, version, gp, gp_width, fixed, fixed_width, ebx_len, unavail,
    # pdcm, perf_caps, perfctr_core, perfmon_v2
    fl, ver, gp, gpw, fx, fxw, ebx, unavail, pdcm, caps, core, v2 = shape
    b = bytes([mode, requested]) + struct.pack("<I", len(why)) + why + b"\0"
    b += bytes([fl, ver, gp, gpw, fx, fxw, ebx]) + struct.pack("<I?Q??", unavail, pdcm, caps, core, v2)
    if filt is None:
        b += b"\0"
    else:
        action, events = filt
        b += struct.pack("<B?BII", 1, action, False, 0, len(events))
        b += b"".join(struct.pack("<HB?B?", ev, um, False, 0, False) for ev, um in events)
    return snap_section(b"PMU_", b + struct.pack("<I", nvcpus))


def snap_soft_vcpu(i, ngp=4, nfixed=3, pending=False):
    b = struct.pack("<IBQ?BB", i, 1, 2000000, pending, ngp, nfixed)
    regs = [(0x53003c, 0xfffffffff000), (0x43013c, 1234)] + [(0, 0)] * (ngp - 2)
    b += b"".join(struct.pack("<QQ", e, c) for e, c in regs)
    b += struct.pack("<" + "Q" * nfixed, *([0, 99, 0][:nfixed]))
    return snap_section(b"PMUV", b + struct.pack("<QQQ", 0x30, 0x70000000f, 1))


def snap_msr_vcpu(i, msrs):
    b = struct.pack("<IBI", i, 2, len(msrs)) + b"".join(struct.pack("<IQ", m, v) for m, v in msrs)
    return snap_section(b"PMUV", b)


def pmu_snap_seeds():
    # modes: off 0, soft 1, legacy 2, mediated 3; configured: auto 0, off 1, soft 4;
    # vendors: Intel 1, AMD 2
    soft = (1, 2, 4, 48, 3, 48, 7, 0x7a, True, 0x2000, False, False)
    write("fuzz_pmu_snap", "soft_1vcpu.bin", bytes([0x00]) +
          snap_head(1, 4, b"configured: soft", soft, 1) + snap_soft_vcpu(0, pending=True))
    write("fuzz_pmu_snap", "soft_2vcpus_filter.bin", bytes([0x08]) +
          snap_head(1, 4, b"configured: soft", soft, 2, (1, [(0x3c, 0)])) +
          snap_soft_vcpu(0) + snap_soft_vcpu(1))
    intel = (1, 2, 8, 48, 3, 48, 7, 0, True, 0x2000, False, False)
    msrs = []
    for i in range(8):
        msrs += [(0xc1 + i, 1000 * i), (0x186 + i, 0x43003c if i == 0 else 0)]
    msrs += [(0x309, 0), (0x30a, 99), (0x30b, 0), (0x38e, 1), (0x390, 0), (0x38d, 0x30),
             (0x38f, 0x2000000ff)]
    write("fuzz_pmu_snap", "legacy_intel.bin", bytes([0x01]) +
          snap_head(2, 3, b"configured: legacy", intel, 1) + snap_msr_vcpu(0, msrs))
    amd = (2, 2, 6, 48, 0, 0, 0, 0, False, 0, True, True)
    amsrs = []
    for i in range(6):
        amsrs += [(0xc0010201 + 2 * i, 0xfff0 * i), (0xc0010200 + 2 * i, 0x53003c if i < 2 else 0)]
    amsrs += [(0xc0000300, 2), (0xc0000302, 0), (0xc0000301, 0x3f)]
    write("fuzz_pmu_snap", "mediated_amd.bin", bytes([0x02]) +
          snap_head(3, 0, b"auto: the host offers the mediated vPMU", amd, 1) + snap_msr_vcpu(0, amsrs))
    # a mediated Intel snapshot on the AMD host, with fallback allowed
    write("fuzz_pmu_snap", "intel_on_amd_fallback.bin", bytes([0x06]) +
          snap_head(3, 0, b"auto", intel, 1) + snap_msr_vcpu(0, msrs))
    off = (1, 0, 0, 0, 0, 0, 0, 0, False, 0, False, False)
    write("fuzz_pmu_snap", "off_2vcpus.bin", bytes([0x0b]) + snap_head(0, 1, b"configured: off", off, 2) +
          snap_section(b"PMUV", struct.pack("<IB", 0, 0)) + snap_section(b"PMUV", struct.pack("<IB", 1, 0)))


if __name__ == "__main__":
    boot_seeds()
    virtq_seeds()
    mmio_seeds()
    vsock_balloon_seeds()
    net_seeds()
    pio_seeds()
    pmu_seeds()
    acpi_seeds()
    dev_snap_seeds()
    pmu_snap_seeds()
    mmds_seeds()
