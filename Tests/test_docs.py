"""README.md and the pages of docs/: every relative link reaches a file, every `#anchor` a heading of its page, the
README stays a short front page, and its headline quotes Results/REPLICATION.md as it stands.

Anchors follow GitHub's rule: the heading's text (markdown removed) in lower case, every character that is not a
letter, digit, space, hyphen or underscore dropped, spaces turned into hyphens; a repeated heading gets -1, -2, ...
"""
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]
README_MAX_LINES = 320

FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})')
HEADING = re.compile(r'^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$')
LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
CODE_SPAN = re.compile(r'(`+)(.+?)\1')


def pages():
    return [REPO / 'README.md'] + sorted((REPO / 'docs').glob('*.md'))


def prose_lines(text):
    """The lines of a markdown text outside fenced code blocks, with their 1-based numbers."""
    fence = None
    for number, line in enumerate(text.split('\n'), 1):
        match = FENCE.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            continue
        yield number, line


def anchor_of(heading):
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)        # a link counts by its text
    text = re.sub(r'<[^>]+>', '', text)                                  # html tags
    text = text.strip().lower()
    text = ''.join(c for c in text if c.isalnum() or c in ' -_')
    return text.replace(' ', '-')


def anchors(path):
    """Every anchor GitHub gives the headings of the markdown file `path`."""
    seen, result = {}, set()
    for _, line in prose_lines(path.read_text()):
        match = HEADING.match(line)
        if not match:
            continue
        base = anchor_of(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f'{base}-{count}')
    return result


def links(path):
    """(line number, target) of every markdown link of `path` outside code blocks and code spans."""
    for number, line in prose_lines(path.read_text()):
        for match in LINK.finditer(CODE_SPAN.sub('', line)):
            yield number, match.group(1)


def broken_links(path, repo=REPO):
    """What is wrong with the relative links of the markdown file `path`, one message per broken link."""
    problems = []
    for number, target in links(path):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target, re.I):               # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition('#')
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f'{path.relative_to(repo)}:{number}: {target}'
        if not dest.exists():
            problems.append(f'{where}: no such file')
        elif anchor and dest.suffix == '.md' and unquote(anchor) not in anchors(dest):
            problems.append(f'{where}: no heading with anchor #{anchor} in {dest.relative_to(repo)}')
    return problems


@pytest.mark.parametrize('page', pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_docs_relative_links_and_anchors_resolve(page):
    problems = broken_links(page)
    assert not problems, 'broken links:\n' + '\n'.join(problems)


def test_docs_link_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'a.md').write_text('# A page\n\n## Second part: the (real) one\n')
    page = tmp_path / 'README.md'
    page.write_text('# Front\n\n[ok](docs/a.md#second-part-the-real-one) [self](#front) [web](https://example.org)\n'
                    '[gone](docs/b.md) [bad anchor](docs/a.md#second-part) `[in code](nowhere.md)`\n'
                    '```\n[in a block](nowhere.md)\n```\n[no such heading](#back)\n')
    problems = broken_links(page, repo=tmp_path)
    assert len(problems) == 3, problems
    assert 'README.md:4: docs/b.md: no such file' in problems[0]
    assert '#second-part' in problems[1] and '#back' in problems[2]


def test_docs_anchor_rule_matches_github():
    assert anchor_of('Marginal log-likelihood (`Models/log_likelihood.py`, `vae_experiments/log_likelihood.py`)') == \
        'marginal-log-likelihood-modelslog_likelihoodpy-vae_experimentslog_likelihoodpy'
    assert anchor_of('A cell knows its run: re-running, resuming, extending, `--status`') == \
        'a-cell-knows-its-run-re-running-resuming-extending---status'
    assert anchor_of("Part 2: the paper's budget (100 epochs; Tables 2 and 3: 50)") == \
        'part-2-the-papers-budget-100-epochs-tables-2-and-3-50'


def test_readme_is_a_short_front_page_with_the_test_command():
    lines = (REPO / 'README.md').read_text().split('\n')
    assert len(lines) < README_MAX_LINES, f'README.md has {len(lines)} lines: move detail to a page of docs/'
    assert any(line.startswith('make test ') for line in lines), 'README.md must show the test command, `make test`'


def test_readme_headline_quotes_the_replication_report():
    """Each claim of the README's headline stands, word for word, with its 10-epoch verdict in Part 1 of
    REPLICATION.md and its paper-budget verdict in Part 2's "The claims at the paper's budget"."""
    readme = (REPO / 'README.md').read_text()
    block = readme[readme.index('<!-- replication-headline -->'):readme.index('<!-- /replication-headline -->')]
    report = (REPO / 'Results' / 'REPLICATION.md').read_text()
    part1 = report[:report.index('\n# Part 2')]
    paper_claims = report.index("\n## The claims at the paper's budget")
    paper = report[paper_claims:report.index("\n## Table 1 at the paper's budget", paper_claims)]
    rows = [line.strip('|').split(' | ') for line in block.split('\n')[3:] if line.startswith('| ')]
    assert rows, 'the headline has no rows'
    for claim, evidence_verdict, paper_verdict in rows:
        for section, verdict, budget in ((part1, evidence_verdict, '10 epochs'), (paper, paper_verdict, "paper's")):
            assert f'#### {claim.strip()}\n\n{verdict.strip()}\n' in section, \
                f'README headline out of date with Results/REPLICATION.md ({budget} budget): {claim.strip()!r}'
