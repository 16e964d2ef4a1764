"""report.html of `motifs`: one self-contained page (the logos inlined as data URIs, no script, no link to fetch), so
it opens in any browser and can be mailed as one file."""
import base64
import html


def _image(path):
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}th{background:#f3f3f3}
img{max-width:640px}.q{font-family:monospace}.small{color:#555;font-size:90%}"""


def write_report(folder, summary):
    """Write folder/report.html from the run's summary and the logos under folder/logos."""
    seqlets = summary["seqlets"]
    rows = []
    for row in summary["patterns"]:
        matches = "<br>".join(f"{html.escape(m['id'])} <b>{html.escape(m['name'])}</b> "
                              f"<span class=q>q = {m['q']:.2g}</span> <span class=small>(p = {m['p']:.2g})</span>"
                              for m in row["matches"])
        name = row["pattern"]
        rows.append(f"<tr><td>{html.escape(name)}<br><span class=small>{row['sign']}</span></td>"
                    f"<td>{row['seqlets']}</td><td class=q>{html.escape(row['consensus'])}</td>"
                    f"<td>{_image(folder / 'logos' / f'{name}.png')}</td>"
                    f"<td>{matches}<br>{_image(folder / 'logos' / f'{name}.match.png')}</td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dnabert2 motifs: {html.escape(summary['attributions'])}</title>
<style>{STYLE}</style></head><body>
<h1>Motifs of {html.escape(summary['attributions'])}</h1>
<p>TF-MoDISco on the <b>{html.escape(summary['method'])}</b> contributions of {summary['regions']:,} regions:
{seqlets['positive']:,} positive and {seqlets['negative']:,} negative seqlets, {len(summary['patterns'])} pattern(s).
Each pattern was compared with the {summary['motifs_compared']:,} {html.escape(summary['tax_group'])} motifs of
{html.escape(summary['jaspar'])} CORE (TOMTOM, memelite); q-values are Benjamini-Hochberg over those motifs.</p>
<table><tr><th>pattern</th><th>seqlets</th><th>consensus</th><th>logos (contribution, hypothetical, bits)</th>
<th>best JASPAR matches</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    (folder / "report.html").write_text(page)
