"""Encrypted backup archives: a zip streamed through AES-256-GCM in chunks, keyed by a passphrase.

Why this shape: the archive leaves the studio (a cloud drive, a NAS), so whoever holds the file must
learn nothing from it and must not be able to change it unnoticed; and the studio must be able to
tell a wrong passphrase from a damaged file.

    header   magic "VCRMBAK" + version (8) · scrypt log2 N, r, p (3) · log2 chunk size (1) ·
             salt (16) · nonce prefix (7) · HMAC-SHA256 of all of the above (32)
    chunks   AES-256-GCM(chunk i), nonce = prefix ‖ i (4 bytes) ‖ final flag (1 byte), the header as
             associated data; every chunk is full-size except the last, which carries the final flag

scrypt turns the passphrase and the salt into 64 bytes: an AES key and an HMAC key. The HMAC over the
header says "wrong passphrase" (or a header that was changed) before any chunk is tried. The chunk
counter in the nonce catches reordered or repeated chunks, the final flag a file cut at a chunk
boundary or with chunks appended (the STREAM construction of Hoang et al., as age and Tink use it).

Nothing is ever written in plaintext: `SealingWriter` is handed to `zipfile` as its file and emits
only ciphertext; `OpenedArchive` is a seekable, read-only file over the ciphertext that decrypts (and
authenticates) each chunk as `zipfile` reads it, after `verify()` has checked every chunk once.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import struct
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import VaultCRMError

MAGIC = b"VCRMBAK\x01"
SCRYPT_LOG2_N = 17  # 128 MiB × r/8 of memory per guess: OWASP's scrypt minimum
SCRYPT_R, SCRYPT_P = 8, 1
CHUNK_LOG2 = 16  # 64 KiB of plaintext per chunk
TAG = 16
_PREFIX = struct.Struct(">8sBBBB16s7s")
HEADER_SIZE = _PREFIX.size + 32
MIN_PASSPHRASE = 8


class SealedError(VaultCRMError):
    """The archive cannot be opened: wrong passphrase, changed, cut short, or not an encrypted backup."""


@dataclass(frozen=True)
class Header:
    log2_n: int
    r: int
    p: int
    chunk_log2: int
    salt: bytes
    prefix: bytes
    raw: bytes  # the header's bytes as stored, MAC included: the chunks' associated data

    @property
    def chunk(self) -> int:
        return 1 << self.chunk_log2


@dataclass(frozen=True)
class Key:
    """A passphrase made into keys for one archive's header (derived once: scrypt is slow on purpose)."""

    header: Header
    aead: bytes
    mac: bytes


def _normalise(passphrase: str) -> bytes:
    """The same passphrase typed on macOS, Windows or a phone gives the same bytes."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    try:
        material = Scrypt(salt=salt, length=64, n=1 << log2_n, r=r, p=p).derive(_normalise(passphrase))
    except (MemoryError, ValueError) as exc:
        raise VaultCRMError(f"无法由口令计算密钥（内存不足？{type(exc).__name__}）") from None
    return material[:32], material[32:]


def new_key(passphrase: str) -> Key:
    """Keys and a fresh header (random salt and nonce prefix) for a new archive."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise VaultCRMError(f"备份加密口令太短（至少 {MIN_PASSPHRASE} 个字符）；请换一个更长的口令")
    salt, prefix = os.urandom(16), os.urandom(7)
    aead, mac = _derive(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    head = _PREFIX.pack(MAGIC, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, CHUNK_LOG2, salt, prefix)
    raw = head + hmac.new(mac, head, hashlib.sha256).digest()
    return Key(Header(SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, CHUNK_LOG2, salt, prefix, raw), aead, mac)


def _nonce(header: Header, index: int, final: bool) -> bytes:
    return header.prefix + struct.pack(">IB", index, 1 if final else 0)


def is_sealed(path) -> bool:
    """Whether the file is an encrypted backup: it starts like one, or is named like one (a damaged
    header must be reported as such, not as "not a zip")."""
    if str(path).endswith(".enc"):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(7) == MAGIC[:7]
    except OSError:
        return False


def read_header(raw: bytes, name: str) -> Header:
    if len(raw) < HEADER_SIZE or raw[:7] != MAGIC[:7]:
        raise SealedError(f"{name} 不是 vaultcrm 的加密备份（或文件头已损坏），未写入任何内容")
    magic, log2_n, r, p, chunk_log2, salt, prefix = _PREFIX.unpack(raw[:_PREFIX.size])
    if magic != MAGIC:
        raise SealedError(f"{name} 是更新版本 vaultcrm 的加密备份格式，请先升级 vaultcrm 再恢复")
    # Bounds before any work: a forged header must not make scrypt eat the machine's memory.
    if not (10 <= log2_n <= 18 and 1 <= r <= 8 and 1 <= p <= 2 and 12 <= chunk_log2 <= 22):  # ≤ 256 MiB
        raise SealedError(f"{name} 的文件头已被改动或损坏（加密参数不合理），已拒绝恢复，未写入任何内容")
    return Header(log2_n, r, p, chunk_log2, salt, prefix, raw[:HEADER_SIZE])


def unlock(header: Header, passphrase: str, name: str) -> Key:
    """The keys for `header`, or SealedError when the passphrase (or the header) is not the one written."""
    aead, mac = _derive(passphrase, header.salt, header.log2_n, header.r, header.p)
    key = Key(header, aead, mac)
    _check_header(key, name)
    return key


def _check_header(key: Key, name: str) -> None:
    head, tag = key.header.raw[:_PREFIX.size], key.header.raw[_PREFIX.size:]
    if not hmac.compare_digest(hmac.new(key.mac, head, hashlib.sha256).digest(), tag):
        raise SealedError(f"口令不对，无法解密 {name}（也可能是备份的文件头被改动过）；未写入任何内容。"
                          "请确认口令（区分大小写）后重试")


class SealingWriter(io.RawIOBase):
    """A write-only, unseekable file that encrypts what is written to it into `out`, chunk by chunk.

    Holds at most one chunk of plaintext; `close()` writes the final chunk (possibly empty)."""

    def __init__(self, out, key: Key):
        super().__init__()
        self._out, self._key, self._aead = out, key, AESGCM(key.aead)
        self._buffer = bytearray()
        self._index = 0
        self._sealed = False
        out.write(key.header.raw)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        size = self._key.header.chunk
        while len(self._buffer) > size:  # more follows: this one is not the last
            self._emit(bytes(self._buffer[:size]), final=False)
            del self._buffer[:size]
        return len(data)

    def _emit(self, plain: bytes, final: bool) -> None:
        if self._index >= 1 << 32:
            raise VaultCRMError("备份过大，无法加密")  # pragma: no cover - 256 TB
        self._out.write(self._aead.encrypt(_nonce(self._key.header, self._index, final), plain, self._key.header.raw))
        self._index += 1

    def finish(self) -> None:
        """Write the final chunk; the archive is complete only after this."""
        if not self._sealed:
            self._emit(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._sealed = True


class OpenedArchive(io.RawIOBase):
    """A seekable read-only view of an encrypted archive's plaintext, decrypted chunk by chunk on read.

    Every chunk is authenticated each time it is read, so a file changed after `verify()` still
    cannot feed a single unchecked byte to zipfile."""

    def __init__(self, fh, key: Key, size: int, name: str):
        super().__init__()
        self._fh, self._key, self._name = fh, key, name
        self._aead = AESGCM(key.aead)
        chunk = key.header.chunk
        body = size - HEADER_SIZE
        self._chunks = max(1, -(-body // (chunk + TAG)))
        last = body - (self._chunks - 1) * (chunk + TAG)
        if last < TAG:
            raise SealedError(f"{name} 不完整（文件被截断）或已损坏，已拒绝恢复，未写入任何内容")
        self._size = body - self._chunks * TAG
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _chunk(self, index: int) -> bytes:
        if self._cached and self._cached[0] == index:
            return self._cached[1]
        chunk = self._key.header.chunk
        self._fh.seek(HEADER_SIZE + index * (chunk + TAG))
        data = self._fh.read(chunk + TAG)
        final = index == self._chunks - 1
        try:
            plain = self._aead.decrypt(_nonce(self._key.header, index, final), data, self._key.header.raw)
        except InvalidTag:
            raise SealedError(self._damage(index, data, final)) from None
        self._cached = (index, plain)
        return plain

    def _damage(self, index: int, data: bytes, final: bool) -> str:
        """What went wrong with a chunk, as precisely as can be told."""
        if final:
            try:  # a whole chunk that is fine as a middle one: the file was cut at a chunk boundary
                self._aead.decrypt(_nonce(self._key.header, index, False), data, self._key.header.raw)
                return f"{self._name} 不完整（文件被截断），已拒绝恢复，未写入任何内容"
            except InvalidTag:
                pass
        return (f"{self._name} 已被改动或损坏（第 {index + 1}/{self._chunks} 段校验失败），"
                "已拒绝恢复，未写入任何内容；请换一份备份")

    def readinto(self, buffer) -> int:
        """Fills `buffer` up to the end of the plaintext (zipfile takes a short read for the end)."""
        view, done, chunk = memoryview(buffer).cast("B"), 0, self._key.header.chunk
        while done < len(view) and self._pos < self._size:
            index, offset = divmod(self._pos, chunk)
            plain = self._chunk(index)[offset:offset + len(view) - done]
            view[done:done + len(plain)] = plain
            done += len(plain)
            self._pos += len(plain)
        return done

    def close(self) -> None:
        self._fh.close()
        super().close()

    def verify(self) -> None:
        """Authenticate every chunk, in order, before anything is trusted."""
        for index in range(self._chunks):
            self._chunk(index)
        self._cached = None

    @property
    def size(self) -> int:
        return self._size


def open_sealed(path, passphrase_or_key: str | Key, name: str) -> tuple[OpenedArchive, Key]:
    """Open and fully verify an encrypted archive; SealedError with the reason when it cannot be trusted.

    A `Key` from an earlier open (same header) saves deriving it again."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise VaultCRMError(f"无法读取备份 {name}：{exc.strerror}") from None
    try:
        size = os.fstat(fh.fileno()).st_size
        header = read_header(fh.read(HEADER_SIZE), name)
        if isinstance(passphrase_or_key, Key) and passphrase_or_key.header.raw == header.raw:
            key = passphrase_or_key
            _check_header(key, name)
        elif isinstance(passphrase_or_key, Key):
            raise SealedError(f"{name} 在预览之后被换成了另一份备份，已停止恢复，未写入任何内容")
        else:
            key = unlock(header, passphrase_or_key, name)
        archive = OpenedArchive(fh, key, size, name)
        archive.verify()
        return archive, key
    except BaseException:
        fh.close()
        raise


__all__ = ["HEADER_SIZE", "Key", "MIN_PASSPHRASE", "OpenedArchive", "SealedError", "SealingWriter", "is_sealed",
           "new_key", "open_sealed", "read_header", "unlock"]
