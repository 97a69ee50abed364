#!/usr/bin/env python3
"""Regenerates the seed corpus of the GGUF fuzzer, tests/fuzz/corpus/gguf/: three valid files from
our writer (format sample v3 and v2/align 64, a very small tiny-llama model) and a few hand-made
invalid or edge-case files.
Run: cmake --build build/dev --target paddock && tools/gguf_oracle_fuzz_corpus.py build/dev/src/cli/paddock
"""
import os
import struct
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
paddock = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build/dev/src/cli/paddock")
out = os.path.join(root, "tests/fuzz/corpus/gguf")
os.makedirs(out, exist_ok=True)

subprocess.run([paddock, "gguf-sample", f"{out}/sample_v3.gguf"], check=True)
subprocess.run([paddock, "gguf-sample", "--version", "2", "--alignment", "64", f"{out}/sample_v2_align64.gguf"], check=True)
subprocess.run([paddock, "gguf-tiny", "--n-embd", "8", "--n-layer", "1", "--n-head", "2", "--n-head-kv", "1",
                "--n-ff", "16", "--n-ctx", "16", f"{out}/tiny_llama.gguf"], check=True)


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack("<Q", len(x)) + x


def hdr(version, n_tensors, n_kv):
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def tensor(name, ne, type_id, offset):
    return s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<q", d) for d in ne) + struct.pack("<IQ", type_id, offset)


def pad(b, align):
    return b + b"\0" * (-len(b) % align)


files = {
    "empty_v3.gguf": hdr(3, 0, 0),
    # array of arrays: [[5], ["x"]] is not valid (mixed element types inside), the fuzzer mutates it
    "nested_arrays.gguf": hdr(3, 0, 1) + s("a.b") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 2)
    + struct.pack("<IQ", 4, 1) + struct.pack("<I", 5) + struct.pack("<IQ", 8, 1) + s("x"),
    "bad_offset.gguf": pad(hdr(3, 2, 0) + tensor("a", [8], 0, 0) + tensor("b", [8], 0, 64), 32) + b"\1" * 64,
    "huge_array.gguf": hdr(3, 0, 1) + s("a.b") + struct.pack("<I", 9) + struct.pack("<IQ", 0, 1 << 60) + b"\0" * 16,
    "alignment_13.gguf": hdr(2, 0, 1) + s("general.alignment") + struct.pack("<II", 4, 13),
    # found by the fuzzer: a power-of-two alignment of 2^31 (writers would pad 2 GiB)
    "alignment_2g.gguf": hdr(2, 0, 1) + s("general.alignment") + struct.pack("<II", 4, 1 << 31),
    "q8_tensor.gguf": pad(hdr(3, 1, 1) + s("general.alignment") + struct.pack("<II", 4, 16)
                          + tensor("w", [32, 2], 8, 0), 16) + bytes(range(68)),
}
for name, data in files.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(files) + 3} files to {out}")
