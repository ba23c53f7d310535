import errno
import fcntl
import os
import stat

import pytest

from melanoma.atomic import (
    as_text_cell,
    atomic_path,
    atomic_paths,
    check_writable,
    folder_locked,
    output_dir,
    write_csv,
)
from melanoma.errors import UserError


def test_atomic_file_replaces_or_leaves_the_old_version(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]
    with atomic_path(target) as temp:
        temp.write_text("new")
    assert target.read_text() == "new"


def test_unwritable_target_names_the_target_not_a_temp_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with (
        pytest.raises(OSError, match=f"{tmp_path / 'file'} is not a directory") as caught,
        atomic_path(tmp_path / "file" / "sub" / "r.json"),
    ):
        pass  # mkdir said only "File exists"
    assert caught.value.filename == str(tmp_path / "file" / "sub" / "r.json")


def test_a_target_that_cannot_be_replaced_is_named_and_no_temp_file_is_left(tmp_path):
    (tmp_path / "r.json").mkdir()  # a folder where the file goes
    (tmp_path / "r.json" / "x").write_text("x")
    with (
        pytest.raises(OSError, match="cannot replace it") as caught,
        atomic_path(tmp_path / "r.json") as temp,
    ):
        temp.write_text("new")
    assert caught.value.filename == str(tmp_path / "r.json")
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
@pytest.mark.parametrize("named", [False, True], ids=["write-names-nothing", "names-the-temp"])
def test_a_full_disk_names_the_output_not_a_temp_file(tmp_path, named, code):
    """write() on a full disk (or quota, or file size limit) raises without a file name;
    the CLI printed only "No space left on device"."""
    with (
        pytest.raises(OSError, match="cannot write it") as caught,
        atomic_path(tmp_path / "r.csv") as temp,
    ):
        temp.write_text("half")
        raise OSError(code, os.strerror(code), *([str(temp)] if named else []))
    assert caught.value.filename == str(tmp_path / "r.csv")
    assert caught.value.errno == code and not list(tmp_path.iterdir())


def test_other_errors_of_the_writer_pass_unchanged(tmp_path):
    with pytest.raises(FileNotFoundError, match="input.jpg"), atomic_path(tmp_path / "r"):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "input.jpg")
    # a full disk elsewhere (a scratch file the writer names) is not the output's
    with pytest.raises(OSError, match="scratch.bin") as caught, atomic_path(tmp_path / "r"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/elsewhere/scratch.bin")
    assert caught.value.filename == "/elsewhere/scratch.bin"


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])  # Ctrl-C, or kill / a shutdown
def test_files_written_together_are_replaced_together_even_when_interrupted(
    tmp_path, monkeypatch, stop
):
    """An artifact and its manifest: a Ctrl-C between the two renames left a new artifact
    beside its old manifest. The signal is held while they are renamed, then delivered."""
    import signal

    import melanoma.atomic

    signum = getattr(signal, stop)

    artifact, manifest = tmp_path / "m.pte", tmp_path / "m.pte.manifest.json"
    artifact.write_text("old")
    manifest.write_text("old")
    replace = melanoma.atomic._replace

    def replace_then_ctrl_c(temp, final):
        replace(temp, final)
        os.kill(os.getpid(), signum)  # after the first rename

    monkeypatch.setattr(melanoma.atomic, "_replace", replace_then_ctrl_c)
    # Python's own handler, whatever pytest inherited: started in the background
    # (`pytest &`), it runs with SIGINT ignored and the signal would never arrive.
    previous = signal.signal(signum, signal.default_int_handler)
    try:
        with (
            pytest.raises(KeyboardInterrupt),
            atomic_paths(artifact, manifest) as (artifact_temp, manifest_temp),
        ):
            artifact_temp.write_text("new")
            manifest_temp.write_text("new")
    finally:
        signal.signal(signum, previous)
    assert (artifact.read_text(), manifest.read_text()) == ("new", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pte", "m.pte.manifest.json"]


def test_files_written_together_keep_both_old_versions_if_the_writer_fails(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text("old")
    with pytest.raises(RuntimeError), atomic_paths(first, second) as (temp, _):
        temp.write_text("new")
        raise RuntimeError("the export failed its check")
    assert first.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a"]


def test_files_written_together_are_not_replaced_when_the_writer_skips_one(tmp_path):
    """An artifact must not replace the old one without its manifest."""
    artifact, manifest = tmp_path / "m.onnx", tmp_path / "m.onnx.manifest.json"
    artifact.write_text("old")
    manifest.write_text("old")
    with pytest.raises(FileNotFoundError, match="writer produced nothing"):
        with atomic_paths(artifact, manifest) as (temp_artifact, _):
            temp_artifact.write_text("new")
    assert (artifact.read_text(), manifest.read_text()) == ("old", "old")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.manifest.json"]


def test_a_directory_replaced_in_place_leaves_no_old_copy_beside_it(tmp_path):
    """An .mlpackage is a directory: the old one is moved aside, then removed."""
    final = tmp_path / "m.mlpackage"
    for version in ("old", "new"):
        with atomic_path(final) as temp:
            temp.mkdir()
            (temp / "weights.bin").write_text(version)
    assert (final / "weights.bin").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["m.mlpackage"]


def test_output_dir_created_for_the_work_is_removed_if_the_work_fails_empty(tmp_path):
    with pytest.raises(ValueError), output_dir(tmp_path / "out"):
        raise ValueError("bad input found after the directory was made")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError), output_dir(tmp_path / "kept") as out:
        (out / "partial.csv").write_text("rows")  # something real was written: keep it
        raise ValueError("later failure")
    assert (tmp_path / "kept" / "partial.csv").exists()


def test_output_dir_removes_the_parent_folders_it_created_for_failed_work(tmp_path):
    (tmp_path / "runs").mkdir()
    with pytest.raises(ValueError), output_dir(tmp_path / "runs" / "p1" / "p2" / "out"):
        raise ValueError("no --data for the int8 program")
    assert list(tmp_path.iterdir()) == [tmp_path / "runs"]
    assert not any((tmp_path / "runs").iterdir())
    with pytest.raises(UserError, match="cannot create output directory"):  # after p1/p2/
        with output_dir(tmp_path / "runs" / "p1" / "p2" / ("x" * 300)):
            pass
    assert not any((tmp_path / "runs").iterdir())


def test_output_dir_never_removes_a_directory_that_existed(tmp_path):
    with pytest.raises(ValueError), output_dir(tmp_path):
        raise ValueError("x")
    assert tmp_path.is_dir()


def test_output_dir_under_a_file_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="cannot create output directory"):
        with output_dir(tmp_path / "file" / "out"):
            pass


def test_check_writable_refuses_the_wrong_kind_of_path_and_creates_nothing(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a directory"):
        check_writable(tmp_path, is_dir=False)
    with pytest.raises(UserError, match="not a directory"):
        check_writable(tmp_path / "file", is_dir=True)
    with pytest.raises(UserError, match="is not a directory"):
        check_writable(tmp_path / "file" / "report.json", is_dir=False)
    check_writable(tmp_path / "new" / "deeper", is_dir=True)  # creatable: fine, nothing made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_csv_keeps_a_file_name_that_is_not_utf8_byte_for_byte(tmp_path):
    name = os.fsdecode(b"mole\xff.jpg")  # how Python holds such a name: a surrogate
    write_csv(tmp_path / "o.csv", ["path"], [[name]])
    assert (tmp_path / "o.csv").read_bytes().splitlines() == [b"path", b"mole\xff.jpg"]


def test_the_temp_file_is_written_beside_the_target(tmp_path):
    """rename() is atomic only within one file system; from a temp folder on another
    disk os.replace fails (EXDEV) once the whole output has been written."""
    final = tmp_path / "out" / "r.json"
    with atomic_path(final) as temp:
        assert temp.parent == final.parent and temp.name.startswith(".r.json.")
        temp.write_text("new")


def test_a_ctrl_c_in_the_first_seconds_removes_the_output_dir_it_created(tmp_path):
    with pytest.raises(KeyboardInterrupt), output_dir(tmp_path / "runs" / "out"):
        raise KeyboardInterrupt
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux's /proc")
def test_output_dir_where_nothing_can_be_created_fails_before_the_work(tmp_path):
    """/proc exists and os.access says root may write there, but no file can be created:
    found now, not when the results are written after minutes of training."""
    with pytest.raises(UserError, match="cannot write in /proc"), output_dir("/proc"):
        pytest.fail("the work ran")


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_written_file_gets_the_mode_open_would_give_it(tmp_path, umask):
    """A new file the umask's mode; a file written over its own mode, as open() keeps it:
    a predictions CSV its owner had made 0600 came back 0644, like the temp file renamed
    over it."""
    previous = os.umask(umask)
    try:
        (tmp_path / "plain").write_text("")
        write_csv(tmp_path / "new.csv", ["path"], [["a.jpg"]])
        (tmp_path / "private.csv").write_text("old")
        (tmp_path / "private.csv").chmod(0o600)
        (tmp_path / "shared.csv").write_text("old")
        (tmp_path / "shared.csv").chmod(0o644)
        for name in ("private.csv", "shared.csv"):
            write_csv(tmp_path / name, ["path"], [["a.jpg"]])
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {
        "plain": 0o666 & ~umask,
        "new.csv": 0o666 & ~umask,
        "private.csv": 0o600,
        "shared.csv": 0o644,
    }
    assert (tmp_path / "private.csv").read_text() == "path\na.jpg\n"


def test_a_csv_is_utf8(tmp_path):
    write_csv(tmp_path / "o.csv", ["path"], [["mélanome_été.jpg"]])
    assert (tmp_path / "o.csv").read_bytes().splitlines()[1] == "mélanome_été.jpg".encode()


def _held(folder, mode=fcntl.LOCK_EX) -> int:
    """Another process's lock: flock conflicts between open files, even in one process."""
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, mode)
    return fd


def refuse():
    raise UserError("busy")


def test_readers_share_a_folder_and_a_writer_is_told_it_is_busy(tmp_path):
    reader = _held(tmp_path, fcntl.LOCK_SH)
    try:
        with folder_locked(tmp_path, shared=True, busy=refuse):
            pass
        with pytest.raises(UserError, match="busy"), folder_locked(tmp_path, busy=refuse):
            pytest.fail("ran while another process read the folder")
    finally:
        os.close(reader)
    with folder_locked(tmp_path, busy=refuse), pytest.raises(BlockingIOError):
        _held(tmp_path, fcntl.LOCK_SH | fcntl.LOCK_NB)  # free once that reader has ended


def test_a_busy_that_returns_waits_for_the_other_process(tmp_path):
    other = _held(tmp_path)
    ran = []
    # busy() itself ends the other process's lock: what a wait then sees
    with folder_locked(tmp_path, busy=lambda: os.close(other)):
        ran.append("after the wait")
        with pytest.raises(BlockingIOError):  # and then holds the folder itself
            _held(tmp_path, fcntl.LOCK_SH | fcntl.LOCK_NB)
    assert ran == ["after the wait"]


def test_a_pipe_or_missing_folder_is_left_to_the_caller_to_name(tmp_path):
    os.mkfifo(tmp_path / "pipe")  # opening it without O_DIRECTORY would block here
    for given in (tmp_path / "pipe", tmp_path / "missing"):
        with folder_locked(given, busy=refuse):
            pass


def test_a_fifo_or_device_named_as_the_output_is_refused_not_replaced(tmp_path):
    """The rename swapped it for a regular file: `--csv /dev/null`, as root, replaced
    /dev/null itself."""
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="out.csv: not a regular file"):
        write_csv(fifo, ["a"], [[1]])
    with pytest.raises(UserError, match="out.csv: not a regular file"):
        check_writable(fifo, is_dir=False)
    (tmp_path / "link.csv").symlink_to(fifo)
    with pytest.raises(UserError, match="link.csv: not a regular file"):
        write_csv(tmp_path / "link.csv", ["a"], [[1]])
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "out.csv"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_start_a_spreadsheet_takes_for_a_formula_is_written_as_a_relative_path(
    start, monkeypatch
):
    """OWASP's list for CSV injection, tab and carriage return included (no test wrote a
    name starting with CR before). A name with these characters later on stays as given.
    ./ on every system: Windows' os.sep made it .\\, which a CSV read elsewhere mangles."""
    monkeypatch.setattr(os, "sep", "\\")  # as on Windows
    assert as_text_cell(f"{start}=1+1.jpg") == f"./{start}=1+1.jpg"
    assert as_text_cell(f"a{start}b.jpg") == f"a{start}b.jpg"
