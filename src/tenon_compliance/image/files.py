"""The image's final file tree: every layer applied in order, whiteouts honoured.

A file that a later layer removes (``.wh.<name>``, or an opaque directory
``.wh..wh..opq``) is not in the runtime filesystem, so it is not reported.
Each layer is read once, streamed.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenon_compliance.image.model import ImageEvidence, LayerEntry


@dataclass(frozen=True)
class ImageFile:
    """A path of the final filesystem and the layer that put it there."""

    entry: LayerEntry
    layer: int
    layer_digest: str

    @property
    def where(self) -> str:
        """``/path (layer N sha256:abc…)`` for messages."""
        return f"/{self.entry.path} (layer {self.layer} {self.layer_digest[:19]})"


def final_tree(image: ImageEvidence) -> dict[str, ImageFile]:
    """Path (without leading ``/``) to the file that is visible at run time.

    Raises ImageError when a layer is unreadable or holds an escaping entry.
    """
    tree: dict[str, ImageFile] = {}
    for layer in image.layers:
        added: dict[str, ImageFile] = {}
        for entry in layer.entries():
            if entry.opaque:
                _remove_below(tree, entry.path)
            elif entry.whiteout:
                _remove(tree, entry.whiteout)
            else:
                added[entry.path] = ImageFile(
                    entry, layer.index, layer.descriptor.digest
                )
        tree.update(added)
    return tree


def _remove(tree: dict[str, ImageFile], path: str) -> None:
    tree.pop(path, None)
    _remove_below(tree, path)


def _remove_below(tree: dict[str, ImageFile], directory: str) -> None:
    prefix = f"{directory}/" if directory else ""
    for path in [
        path for path in tree if path.startswith(prefix) and path != directory
    ]:
        del tree[path]
