"""Map a key path in a frontmatter back to its line in the file, for diagnostics that editors can jump to.

Only called on the error path, so it may afford a full compose with node marks.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def key_line(yaml_text: str, path: Sequence[object], first_line: int = 1) -> int:
    """1-based line of the deepest key of `path` that exists in `yaml_text` (whose line 1 is `first_line`)."""
    try:
        node = yaml.compose(yaml_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return first_line
    line = 0
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line, value
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return first_line + line
