"""Images in a symlinked folder are found, for training (``data.name=folder``) and for predict alike: a
class folder gathered from elsewhere with links was silently left out (``Path.rglob`` does not follow
them); a link back up to a parent is not followed."""

import numpy as np
from PIL import Image

import vislab
from vislab.data.image_folders import image_files
from vislab.data.sources.folder_layout import scan


def _pngs(folder, n, value):
    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.full((8, 8), value + i, np.uint8)).save(folder / f"{i}.png")


def test_a_linked_sub_folder_is_part_of_its_class_and_a_loop_is_read_once(tmp_path):
    _pngs(tmp_path / "elsewhere" / "tabby", 3, 10)
    _pngs(tmp_path / "data" / "cat", 2, 50)
    _pngs(tmp_path / "data" / "dog", 2, 90)
    (tmp_path / "data" / "cat" / "tabby").symlink_to(tmp_path / "elsewhere" / "tabby")
    (tmp_path / "data" / "dog" / "up").symlink_to(tmp_path / "data")  # a loop
    (tmp_path / "data" / "cat" / ".hidden").mkdir()
    (tmp_path / "data" / "cat" / ".hidden" / "0.png").write_bytes(b"")
    layout = scan(tmp_path / "data")["train"]
    assert [p.name for p in layout["cat"]] == ["0.png", "1.png", "0.png", "1.png", "2.png"]
    assert len(layout["cat"]) == 5 and {p.parent.name for p in layout["cat"]} == {"cat", "tabby"}
    dog = image_files(tmp_path / "data" / "dog")
    assert len(dog) == 2  # its own: the link back up to data/ is not followed


def test_predict_reads_a_linked_folder(trained, tmp_path):
    _pngs(tmp_path / "elsewhere", 2, 0)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "more").symlink_to(tmp_path / "elsewhere")
    table = vislab.load_run(trained).predict_files(tmp_path / "photos")
    assert len(table) == 2 and (table.error == "").all()
