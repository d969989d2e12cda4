# Writes the committed seed corpus of the fuzzers (corpus/idx, corpus/npz, corpus/npy): valid files and the hostile cases.
# (.npz is in .gitignore: corpus files are added with `git add -f fuzz/corpus`.)
# Run with python3 (standard library only) in this directory; the output is deterministic.
import gzip
import io
import os
import shutil
import struct
import zipfile
import zlib


def put(kind, name, data):
    with open(os.path.join("corpus", kind, name), "wb") as f:
        f.write(data)


def idx(type_code, dims, payload):
    return struct.pack(">BBBB", 0, 0, type_code, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload


def npy(descr, shape, payload, version=1, order="False", pad=True):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = f"{{'descr': '{descr}', 'fortran_order': {order}, 'shape': ({dims}), }}"
    prefix = 10 if version == 1 else 12
    if pad:
        header += " " * ((64 - (prefix + len(header) + 1) % 64) % 64)
    header += "\n"
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode() + payload


def npz(members, compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 2, 12, 0, 0))
            info.compress_type = compress
            z.writestr(info, data)
    return buf.getvalue()


def f8(values):
    return b"".join(struct.pack("<d", v) for v in values)


def f4(values):
    return b"".join(struct.pack("<f", v) for v in values)


for kind in ("idx", "npz", "npy", "safetensors"):
    shutil.rmtree(os.path.join("corpus", kind), ignore_errors=True)
    os.makedirs(os.path.join("corpus", kind))

# ------------------------------------------------------------------ IDX
labels = idx(8, [5], bytes([4, 3, 2, 1, 0]))
images = idx(8, [2, 3, 3], bytes(range(18)))
put("idx", "valid-labels", labels)
put("idx", "valid-images", images)
put("idx", "valid-images.gz", gzip.compress(images, mtime=0))
put("idx", "gzip-inside-gzip.gz", gzip.compress(gzip.compress(labels, mtime=0), mtime=0))
put("idx", "wrong-magic", b"\x01\x02" + images[2:])
put("idx", "gzip-magic-only", b"\x1f\x8b")
put("idx", "short-header-2", images[:2])
put("idx", "short-header-dims", images[:9])
put("idx", "rank-0", idx(8, [], b""))
put("idx", "rank-9", struct.pack(">BBBB", 0, 0, 8, 9) + b"\0\0\0\1" * 9)
put("idx", "type-float32", idx(0x0D, [2], f4([1, 2])))
put("idx", "type-unknown", idx(0x42, [2], b"\0\0"))
put("idx", "overflowing-dims", idx(8, [0xFFFFFFFF] * 3, b""))
put("idx", "overflowing-dims-rank-8", idx(8, [0xFFFFFFFF] * 8, b""))
put("idx", "gigabytes-claimed", idx(8, [60000, 28, 28000], b"\0" * 16))
put("idx", "gigabytes-claimed.gz", gzip.compress(idx(8, [60000, 28, 28000], b"\0" * 16), mtime=0))
put("idx", "payload-short", idx(8, [2, 3, 3], bytes(range(17))))
put("idx", "trailing-bytes", images + b"\0")
put("idx", "valid-zero-extent", idx(8, [0, 3], b""))
gz = gzip.compress(images, mtime=0)
put("idx", "gzip-truncated", gz[: len(gz) - 6])
put("idx", "gzip-bad-crc", gz[:-8] + bytes([gz[-8] ^ 0xFF]) + gz[-7:])
put("idx", "gzip-trailing-garbage", gz + b"garbage")

# ------------------------------------------------------------------ NPZ (checkpoints)
good = [
    ("w.npy", npy("<f8", (2, 3), f8([0.5, -1.25, 3.0, 1024.0, -0.0, 2.0**-20]))),
    ("b.npy", npy("<f4", (4,), f4([1.5, -2.25, 1e-3, 65504.0]))),
    ("scalar.npy", npy("<f8", (), f8([3.25]))),
    ("empty.npy", npy("<f4", (0, 3), b"")),
]
put("npz", "valid-stored.npz", npz(good))
put("npz", "valid-deflated.npz", npz(good, zipfile.ZIP_DEFLATED))
put("npz", "valid-npy-v2.npz", npz([("a.npy", npy("<f8", (2,), f8([1, 2]), version=2))]))
put("npz", "valid-empty-archive.npz", b"PK\x05\x06" + b"\0" * 18)
# a tiny .npy asking for gigabytes: the header alone, shape 100000 x 100000
put("npz", "gigabytes-claimed.npz", npz([("huge.npy", npy("<f8", (100000, 100000), b""))]))
put("npz", "gigabytes-claimed-deflated.npz", npz([("huge.npy", npy("<f8", (100000, 100000), b""))], zipfile.ZIP_DEFLATED))
put("npz", "overflowing-shape.npz", npz([("o.npy", npy("<f8", (2**40, 2**40, 2**40), b""))]))
# found by fuzz_npz: no elements, but strides of 2^80 bytes overflow when the empty tensor is made
put("npz", "zero-extent-huge-strides.npz", npz([("z.npy", npy("<f8", (0, 2**40, 2**40), b""))]))
put("npz", "short-header.npz", npz([("s.npy", b"\x93NUMPY\x01\x00")]))
put("npz", "npy-12-bytes.npz", npz([("t.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\x7f")]))
put("npz", "wrong-npy-magic.npz", npz([("m.npy", b"\x93NUMPX" + npy("<f8", (1,), f8([1]))[6:])]))
put("npz", "payload-short.npz", npz([("p.npy", npy("<f8", (3,), f8([1, 2])))]))
put("npz", "fortran-order.npz", npz([("f.npy", npy("<f8", (2, 2), f8([1, 2, 3, 4]), order="True"))]))
put("npz", "big-endian.npz", npz([("e.npy", npy(">f8", (1,), struct.pack(">d", 1.0)))]))
put("npz", "int32.npz", npz([("i.npy", npy("<i4", (2,), struct.pack("<ii", 1, 2)))]))
put("npz", "not-npy-member.npz", npz([("readme.txt", b"hello")]))
put("npz", "duplicate-names.npz", npz([("a.npy", npy("<f8", (1,), f8([1]))), ("b.npy", npy("<f8", (1,), f8([2])))]).replace(b"b.npy", b"a.npy"))
archive = npz(good)
put("npz", "truncated-half.npz", archive[: len(archive) // 2])
put("npz", "truncated-before-directory.npz", archive[: archive.rfind(b"PK\x01\x02")])
put("npz", "truncated-eocd.npz", archive[:-5])
eocd = archive.rfind(b"PK\x05\x06")
bad_offset = bytearray(archive)
struct.pack_into("<I", bad_offset, eocd + 16, 0xFFFFFF00)  # central directory offset past the end
put("npz", "bad-directory-offset.npz", bytes(bad_offset))
bad_count = bytearray(archive)
struct.pack_into("<HH", bad_count, eocd + 8, 0xFFFF, 0xFFFF)  # more entries than there are
put("npz", "bad-directory-count.npz", bytes(bad_count))
bad_size = bytearray(archive)
cd = archive.find(b"PK\x01\x02")
struct.pack_into("<II", bad_size, cd + 20, 0x7FFFFFFF, 0x7FFFFFFF)  # sizes far beyond the archive
put("npz", "bad-directory-sizes.npz", bytes(bad_size))
bad_crc = bytearray(archive)
lh = archive.find(b"PK\x03\x04")
data_start = lh + 30 + struct.unpack_from("<H", archive, lh + 26)[0] + struct.unpack_from("<H", archive, lh + 28)[0]
bad_crc[data_start + 100] ^= 0xFF  # payload byte changed under its CRC
put("npz", "bad-crc.npz", bytes(bad_crc))
put("npz", "not-a-zip.npz", b"this is not a zip archive at all, just text")

# Hostile archives of issue 12 (the fuzzers and the corpus replay read with a 1 MiB inflate limit,
# so these bombs stay a few kB and fast to fuzz).
def local(name, method, crc, csize, usize, flags=0, extra=b""):
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, csize, usize, len(name),
                       len(extra)) + name + extra


def central(name, method, crc, csize, usize, offset, flags=0, extra=b""):
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc, csize, usize,
                       len(name), len(extra), 0, 0, 0, 0, offset) + name + extra


def end(count, cd_size, cd_offset):
    return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0)


def raw_deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def laid_out(members):
    """Members (name, method, content, stored bytes) end to end, then the central directory."""
    body, cd = b"", b""
    for name, method, content, data in members:
        crc = zlib.crc32(content)
        cd += central(name, method, crc, len(data), len(content), len(body))
        body += local(name, method, crc, len(data), len(content)) + data
    return body + cd + end(len(members), len(cd), len(body))


small = npy("<f8", (2,), f8([1, 2]))
put("npz", "concatenated-archives.npz", npz([("a.npy", small)]) + npz([("b.npy", small)]))
put("npz", "data-prepended.npz", b"#!/bin/sh\n" + npz([("a.npy", small)]))
put("npz", "data-appended.npz", npz([("a.npy", small)]) + b"trailing")
bomb_content = npy("<f8", (2 << 17,), b"\0" * (2 << 20))  # 2 MiB of zeros in ~2 kB
put("npz", "bomb-deflate-2mib.npz", laid_out([(b"z.npy", 8, bomb_content, raw_deflate(bomb_content))]))
# ten names for one local header: ten times the output of one deflated block
shared = raw_deflate(npy("<f8", (1 << 15,), b"\0" * (1 << 18)))
shared_content = npy("<f8", (1 << 15,), b"\0" * (1 << 18))
body = local(b"m0.npy", 8, zlib.crc32(shared_content), len(shared), len(shared_content)) + shared
cd = b"".join(central(b"m%d.npy" % i, 8, zlib.crc32(shared_content), len(shared), len(shared_content), 0)
              for i in range(10))
put("npz", "bomb-shared-local-header.npz", body + cd + end(10, len(cd), len(body)))
# one member stored inside another: its bytes are read twice
inner = local(b"inner.npy", 0, zlib.crc32(small), len(small), len(small)) + small
outer = local(b"outer.npy", 0, zlib.crc32(inner), len(inner), len(inner))
cd = central(b"outer.npy", 0, zlib.crc32(inner), len(inner), len(inner), 0) + \
    central(b"inner.npy", 0, zlib.crc32(small), len(small), len(small), len(outer))
put("npz", "nested-members.npz", outer + inner + cd + end(2, len(cd), len(outer + inner)))
# bytes between members that belong to none
la = local(b"a.npy", 0, zlib.crc32(small), len(small), len(small)) + small
hidden = b"PK hidden"
lb = local(b"b.npy", 0, zlib.crc32(small), len(small), len(small)) + small
cd = central(b"a.npy", 0, zlib.crc32(small), len(small), len(small), 0) + \
    central(b"b.npy", 0, zlib.crc32(small), len(small), len(small), len(la + hidden))
put("npz", "gap-between-members.npz", la + hidden + lb + cd + end(2, len(cd), len(la + hidden + lb)))
# a name only one kind of reader decodes as written (not ASCII, not flagged UTF-8)
put("npz", "name-not-ascii-not-utf8.npz", laid_out([("caf\u00e9.npy".encode(), 0, small, small)]))
# the local header names another member than the central directory
wrong = local(b"b.npy", 0, zlib.crc32(small), len(small), len(small)) + small
cd = central(b"a.npy", 0, zlib.crc32(small), len(small), len(small), 0)
put("npz", "local-name-differs.npz", wrong + cd + end(1, len(cd), len(wrong)))
# a deflated member whose stream goes on past its declared size
longer = npy("<f8", (2,), f8([1, 2]))
put("npz", "deflate-longer-than-declared.npz",
    laid_out([(b"a.npy", 8, longer, raw_deflate(longer + b"\0" * 64))]).replace(
        struct.pack("<I", len(longer) + 64), struct.pack("<I", len(longer))))
put("npz", "nan-weights.npz", npz([("w.npy", npy("<f8", (2,), f8([1, float("nan")])))]))
# zip64: an end record pointing at a zip64 end record (valid), and one that disagrees with it
z_body = local(b"a.npy", 0, zlib.crc32(small), len(small), len(small)) + small
z_cd = central(b"a.npy", 0, zlib.crc32(small), len(small), len(small), 0)
def zip64(count16):
    rec = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(z_cd), len(z_body))
    loc = struct.pack("<IIQI", 0x07064B50, 0, len(z_body + z_cd), 1)
    e = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count16, count16, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return z_body + z_cd + rec + loc + e
put("npz", "valid-zip64-end-record.npz", zip64(0xFFFF))
put("npz", "zip64-end-records-disagree.npz", zip64(2))
# a data descriptor after the data, as a streaming writer leaves it
desc = struct.pack("<IIII", 0x08074B50, zlib.crc32(small), len(small), len(small))
d_body = local(b"a.npy", 0, 0, 0, 0, flags=8) + small + desc
d_cd = central(b"a.npy", 0, zlib.crc32(small), len(small), len(small), 0, flags=8)
put("npz", "valid-data-descriptor.npz", d_body + d_cd + end(1, len(d_cd), len(d_body)))

put("idx", "bomb-2mib.gz", gzip.compress(idx(8, [2 << 20], b"\0" * (2 << 20)), mtime=0))

# ------------------------------------------------------------------ .npy headers alone
put("npy", "valid-v1.npy", npy("<f8", (2, 3), f8(range(6))))
put("npy", "valid-v2.npy", npy("<f4", (3,), f4([1, 2, 3]), version=2))
put("npy", "valid-v3.npy", npy("<f8", (), f8([1]), version=3))
put("npy", "valid-unpadded.npy", npy("<f8", (1, 1), f8([1]), pad=False))
put("npy", "twelve-bytes-asking-for-gigabytes.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\x7f")
put("npy", "valid-header-claiming-gigabytes.npy", npy("<f8", (100000, 100000), b""))
put("npy", "overflowing-shape.npy", npy("<f8", (2**62, 4), b""))
put("npy", "zero-extent-huge-strides.npy", npy("<f8", (0, 2**40, 2**40), b""))
put("npy", "too-many-dims.npy", npy("<f8", tuple([1] * 40), b""))
put("npy", "negative-dim.npy", npy("<f8", (2,), b"").replace(b"(2,)", b"(-2,)"))
put("npy", "wrong-magic.npy", b"\x93NUMPX\x01\x00\x10\x00{}              \n")
put("npy", "version-9.npy", b"\x93NUMPY\x09\x00\x10\x00{}              \n")
put("npy", "header-length-0.npy", b"\x93NUMPY\x01\x00\x00\x00")
put("npy", "missing-key.npy", b"\x93NUMPY\x01\x00\x20\x00{'descr': '<f8', 'shape': (1,)}\n")
put("npy", "extra-key.npy", npy("<f8", (1,), b"").replace(b"'shape'", b"'extra': 1, 'shape'"))
put("npy", "unterminated-string.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr: <f8   \n")

# ------------------------------------------------------------------ safetensors
def st(header, buffer=b""):
    text = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(text)) + text + buffer


def st_entry(name, dtype, shape, begin, end):
    return '"%s":{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}' % (name, dtype, shape, begin, end)


two = f4([1.5, -2.0])
put("safetensors", "valid-two-floats.safetensors", st("{" + st_entry("w", "F32", "[2]", 0, 8) + "}", two))
put("safetensors", "valid-every-dtype.safetensors",
    st("{" + ",".join([st_entry("a", "F64", "[]", 0, 8), st_entry("b", "I64", "[2]", 8, 24),
                       st_entry("c", "F32", "[0,3]", 24, 24), st_entry("d", "F32", "[1]", 24, 28)]) +
       ',"__metadata__":{"format":"pt"}}  ',
       f8([3.25]) + struct.pack("<qq", -1, 7) + f4([2.0])))
put("safetensors", "valid-empty.safetensors", st("{}"))
put("safetensors", "duplicate-key.safetensors",
    st("{" + st_entry("w", "F32", "[2]", 0, 8) + "," + st_entry("w", "F32", "[2]", 0, 8) + "}", two))
put("safetensors", "overlap.safetensors",
    st("{" + st_entry("a", "F32", "[2]", 0, 8) + "," + st_entry("b", "F32", "[1]", 4, 8) + "}", two))
put("safetensors", "gap.safetensors", st("{" + st_entry("a", "F32", "[1]", 4, 8) + "}", two))
put("safetensors", "trailing-data.safetensors", st("{" + st_entry("a", "F32", "[1]", 0, 4) + "}", two))
put("safetensors", "size-mismatch.safetensors", st("{" + st_entry("a", "F32", "[3]", 0, 8) + "}", two))
put("safetensors", "offsets-past-end.safetensors", st("{" + st_entry("a", "F32", "[2]", 0, 1 << 40) + "}", two))
put("safetensors", "dtype-bf16.safetensors", st("{" + st_entry("a", "BF16", "[4]", 0, 8) + "}", two))
put("safetensors", "dtype-unknown.safetensors", st("{" + st_entry("a", "X9", "[2]", 0, 8) + "}", two))
put("safetensors", "extra-key.safetensors",
    st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"more":1}}', two))
put("safetensors", "header-length-huge.safetensors", struct.pack("<Q", 1 << 62) + b"{}")
put("safetensors", "header-length-past-end.safetensors", struct.pack("<Q", 4096) + b"{}")
put("safetensors", "not-json.safetensors", st("{this is not json}", two))
put("safetensors", "nested-deep.safetensors", st('{"a":' + "[" * 64 + "]" * 64 + "}"))
put("safetensors", "shape-33-dims.safetensors", st("{" + st_entry("a", "F32", "[" + ",".join(["1"] * 33) + "]", 0, 4) + "}", f4([1])))
put("safetensors", "shape-overflow.safetensors",
    st("{" + st_entry("a", "F64", "[4294967296,4294967296]", 0, 8) + "}", f8([1])))
put("safetensors", "nan-value.safetensors", st("{" + st_entry("a", "F64", "[1]", 0, 8) + "}", f8([float("nan")])))
put("safetensors", "metadata-not-string.safetensors", st('{"__metadata__":{"k":5}}'))
put("safetensors", "truncated.safetensors", b"\x10\x00\x00")
