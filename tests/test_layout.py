"""The online book reads well at 1280 x 900: nothing cut off, every figure legible, no setup noise.

For every page in ``_toc.yml``, in headless Chromium (fixtures in ``conftest.py``):
- no ``pre`` block in the article is wider than the article's column or needs scrolling;
- no table needs horizontal scrolling (or is wider than the column);
- no content image is drawn at less than 75 % of its natural width;
- a cell's consecutive prints are one output block, not a box per print;
- an output line of ``COLUMN_CHARS`` monospace characters fits the column unwrapped
  (``tests/test_output_width.py`` keeps every printed line within it);
- the Colab setup cell is not shown, and the chapter's first code cell shown is folded.
Sections of prose stay short enough to read (``test_sections_have_a_manageable_length``, no browser).
"""

from __future__ import annotations

import re

import nbformat
import pytest

from attention_course.notebook import COLUMN_CHARS
from conftest import page_source

MIN_IMAGE_SCALE = 0.75
MAX_SECTION_WORDS = 1200

LAYOUT_JS = """() => {
    const article = document.querySelector('article.bd-article') || document.querySelector('main');
    const col = article.getBoundingClientRect();
    const name = el => {
        const cell = el.closest('.cell');
        const idx = cell ? [...document.querySelectorAll('.cell')].indexOf(cell) : -1;
        return `${el.tagName.toLowerCase()} in cell ${idx}: ` + (el.textContent || el.alt || el.src || '')
            .trim().slice(0, 60).replace(/\\s+/g, ' ');
    };
    const wide = [];
    for (const el of article.querySelectorAll('pre')) {
        if (el.closest('.toggle-hidden, details:not([open])') || el.offsetParent === null) continue;
        const r = el.getBoundingClientRect();
        if (el.scrollWidth > el.clientWidth + 1 || r.right > col.right + 1)
            wide.push(`${name(el)} (${el.scrollWidth} px of ${Math.round(el.clientWidth)})`);
    }
    const tables = [];
    for (const el of article.querySelectorAll('table')) {
        if (el.offsetParent === null) continue;
        const box = el.parentElement;
        const r = el.getBoundingClientRect();
        if (r.right > col.right + 1 || box.scrollWidth > box.clientWidth + 1)
            tables.push(`${name(el)} (${Math.round(r.width)} px, column ${Math.round(col.width)})`);
    }
    const images = [];
    for (const el of article.querySelectorAll('img')) {
        if (!el.naturalWidth || el.offsetParent === null) continue;
        const scale = el.getBoundingClientRect().width / el.naturalWidth;
        if (scale < %(min_scale)s)
            images.push(`${name(el)} drawn at ${(100 * scale).toFixed(0)} %% of ${el.naturalWidth} px`);
    }
    // A cell's consecutive prints form one output block (nb_merge_streams), not a box per print.
    const split = [];
    for (const out of article.querySelectorAll('.cell_output')) {
        const kids = [...out.children];
        if (kids.some((el, i) => i && el.matches('.output.stream') && kids[i - 1].matches('.output.stream')))
            split.push(name(out));
    }
    // How many monospace characters an output line holds without wrapping (outputs print to fit).
    let outputChars = null;
    const sample = article.querySelector('.cell_output pre');
    if (sample) {
        const probe = sample.cloneNode(false);
        probe.style.whiteSpace = 'pre';
        probe.textContent = '0'.repeat(%(chars)s);
        sample.parentElement.appendChild(probe);
        outputChars = probe.scrollWidth <= probe.clientWidth + 1 ? %(chars)s : 0;
        probe.remove();
    }
    const shownCode = [...article.querySelectorAll('.cell .cell_input')]
        .filter(el => el.offsetParent !== null && !el.closest('details:not([open])'));
    return {wide, tables, images, split, column: col.width, outputChars,
            colab: article.textContent.includes('google.colab'),
            firstCodeShown: shownCode.length ? shownCode[0].textContent.trim().slice(0, 80) : null};
}""" % {"min_scale": MIN_IMAGE_SCALE, "chars": COLUMN_CHARS}

@pytest.mark.browser
def test_nothing_is_cut_off_and_figures_are_legible(toc_page, browser_page):
    view = browser_page(f"{toc_page}.html")
    layout = view.page.evaluate(LAYOUT_JS)
    problems = [f"wider than the {layout['column']:.0f} px column: {w}" for w in layout["wide"]]
    problems += [f"table cut off or scrolling: {t}" for t in layout["tables"]]
    problems += [f"figure shrunk: {i}" for i in layout["images"]]
    problems += [f"prints split into several boxes: {s}" for s in layout["split"]]
    if layout["outputChars"] is not None:   # the width printed outputs are formatted for really fits
        assert layout["outputChars"] == COLUMN_CHARS, f"{toc_page}: {COLUMN_CHARS} characters do not fit an output line"
    assert not problems, f"{toc_page}:\n  " + "\n  ".join(problems)


@pytest.mark.browser
def test_no_setup_noise_before_the_chapter(toc_chapter, browser_page):
    view = browser_page(f"{toc_chapter}.html")
    layout = view.page.evaluate(LAYOUT_JS)
    assert not layout["colab"], f"{toc_chapter}: the Colab setup cell is shown"
    # The long import cell is folded behind a toggle: the first visible code is not an import list.
    first = layout["firstCodeShown"] or ""
    assert not re.match(r"(import|from) \w", first), f"{toc_chapter}: first code shown: {first!r}"


def _sections(nb) -> list[tuple[str, int]]:
    """(heading, words of markdown prose) for each section of a notebook, split at # .. ###."""
    sections, title, words = [], "(top)", 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"```.*?```|\$\$.*?\$\$", " ", cell.source, flags=re.S)
        for line in text.splitlines():
            heading = re.match(r"#{1,3} (.*)", line)
            if heading:
                sections.append((title, words))
                title, words = heading.group(1).strip(), 0
            else:
                words += len(re.findall(r"[A-Za-zÀ-ÿ0-9']+", re.sub(r"\$[^$]*\$", " ", line)))
    sections.append((title, words))
    return [s for s in sections if s[1]]


def test_sections_have_a_manageable_length(toc_chapter, book_root):
    path = page_source(toc_chapter, book_root)
    nb = nbformat.read(path, as_version=4)
    long = [(t, w) for t, w in _sections(nb) if w > MAX_SECTION_WORDS]
    assert not long, f"{toc_chapter}: sections over {MAX_SECTION_WORDS} words of prose: {long}"
