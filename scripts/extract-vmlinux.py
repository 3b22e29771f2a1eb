#!/usr/bin/env python3
"""extract-vmlinux.py BZIMAGE OUT: write the ELF vmlinux inside a bzImage.

A bzImage (Linux boot protocol 2.08+) records where its compressed kernel
lies: payload_offset and payload_length in the setup header, counted from
the start of the protected-mode code. The payload is the ELF vmlinux,
compressed with gzip, xz, zstd, lzma, bzip2 or lz4; this decompresses it
(zstd and lz4 through their command-line tools) and checks it is an ELF.
mpvm then boots the result through its PVH note if the kernel has one
(CONFIG_PVH), else through the 64-bit boot protocol."""
import bz2
import gzip
import lzma
import shutil
import struct
import subprocess
import sys


def fail(msg):
    sys.stderr.write("extract-vmlinux: %s\n" % msg)
    sys.exit(1)


def decompress(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=__import__("io").BytesIO(data)).read()
    if data[:6] == b"\xfd7zXZ\x00":
        d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        return d.decompress(data)  # trailing bytes (the size) are left in unused_data
    if data[:3] == b"\x5d\x00\x00":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)
    if data[:3] == b"BZh":
        return bz2.BZ2Decompressor().decompress(data)
    for magic, tool in ((b"\x28\xb5\x2f\xfd", "zstd"), (b"\x02\x21\x4c\x18", "lz4")):
        if data[:4] == magic:
            if not shutil.which(tool):
                fail("the payload is %s-compressed and `%s` is not installed" % (tool, tool))
            return subprocess.run([tool, "-dc"], input=data, stdout=subprocess.PIPE, check=True).stdout
    fail("unknown compression (magic %s)" % data[:6].hex())


def main():
    if len(sys.argv) != 3:
        fail("usage: extract-vmlinux.py BZIMAGE OUT")
    img = open(sys.argv[1], "rb").read()
    if len(img) < 0x250 or img[0x202:0x206] != b"HdrS":
        fail("%s is not a bzImage (no HdrS setup header)" % sys.argv[1])
    version = struct.unpack_from("<H", img, 0x206)[0]
    if version < 0x208:
        fail("boot protocol %d.%02d has no payload fields (needs 2.08)" % (version >> 8, version & 0xff))
    setup_sects = img[0x1f1] or 4
    pm_start = (setup_sects + 1) * 512
    off, length = struct.unpack_from("<II", img, 0x248)
    if pm_start + off + length > len(img):
        fail("payload (%d bytes at %d) runs past the end of the file" % (length, pm_start + off))
    elf = decompress(img[pm_start + off:pm_start + off + length])
    if elf[:4] != b"\x7fELF":
        fail("the payload did not decompress to an ELF file")
    with open(sys.argv[2], "wb") as f:
        f.write(elf)


if __name__ == "__main__":
    main()
