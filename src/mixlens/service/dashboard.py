"""The live dashboard: its data (one snapshot per change) and its page (inline JS and SVG).

The page asks for an API key, keeps it in the tab's ``sessionStorage`` and reads
``GET /v1/dashboard/stream`` (server-sent events) with ``fetch`` so the key travels in the
``Authorization`` header, never in a URL (URLs end up in logs). No external resources.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from mixlens.errors import DataError
from mixlens.service.engine import ActiveModel, attribute_conversion, attribute_window
from mixlens.service.schemas import from_us
from mixlens.service.store import EventStore

__all__ = ["PAGE", "WINDOW_DAYS", "load_allocation", "snapshot"]

WINDOW_DAYS = 30.0
"""The dashboard credits the conversions of the last this many days of data."""

_ALLOCATION_COLUMNS = ("channel", "current_spend", "recommended_spend")


def load_allocation(path: str | Path) -> list[dict[str, Any]]:
    """Read ``allocation.csv`` (``mixlens allocate``): channel, current and recommended spend.

    Raises
    ------
    DataError
        If the file is missing, lacks a column, or holds a spend that is not a number.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError("allocation file not found", file=str(p))
    with p.open(newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in _ALLOCATION_COLUMNS if not rows or c not in rows[0]]
    if missing:
        raise DataError(f"needs the columns {', '.join(_ALLOCATION_COLUMNS)}", file=str(p))
    out = []
    for i, row in enumerate(rows, start=1):
        item: dict[str, Any] = {"channel": row["channel"]}
        for col in _ALLOCATION_COLUMNS[1:]:
            try:
                item[col] = float(row[col])
            except ValueError:
                item[col] = math.nan
            if not math.isfinite(item[col]):
                raise DataError(f"{row[col]!r} is not a number", file=str(p), column=col, row=i)
        out.append(item)
    return out


def snapshot(
    store: EventStore,
    tenant_id: int,
    model: ActiveModel,
    *,
    lookback_us: int,
    allocation: list[dict[str, Any]] | None,
    recent: int = 10,
) -> dict[str, Any]:
    """Everything the dashboard shows for one tenant, JSON-safe."""
    counts = store.counts(tenant_id)
    latest = store.recent_conversions(tenant_id, recent)
    end = (latest[0].ts_us + 1) if latest else 0
    start = end - round(WINDOW_DAYS * 86_400e6)
    window = attribute_window(store, tenant_id, start, end, model, lookback_us=lookback_us)
    conversions = []
    for conv in latest:
        credit = attribute_conversion(conv, store.path(tenant_id, conv, lookback_us), model)
        conversions.append(
            {
                "conversion_id": conv.event_id,
                "timestamp": from_us(conv.ts_us),
                "value": conv.value,
                "path": [
                    {"channel": c["channel"], "credit": c["credit"]} for c in credit["credits"]
                ],
            }
        )
    t, c = counts.get("touchpoint", 0), counts.get("conversion", 0)
    return {
        "model": model.name,
        "stats": {"events": t + c, "touchpoints": t, "conversions": c},
        "window": {"from": window["from"], "to": window["to"], "days": WINDOW_DAYS},
        "credits": window["credits"],
        "recent": conversions,
        "recommendation": allocation,
    }


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mixlens live attribution</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:16px;align-items:center}
header h1{font-size:17px;margin:0;flex:1}
main{display:grid;grid-template-columns:1fr 1fr;gap:16px;padding:16px 20px}
section{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002}
section.wide{grid-column:1 / span 2}
h2{font-size:14px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #eee;vertical-align:top}
.chip{display:inline-block;border-radius:10px;padding:1px 8px;margin:1px 2px;color:#fff}
#status{font-size:12px;opacity:.8}
input{width:320px;padding:4px}
</style></head>
<body>
<header><h1>mixlens live attribution</h1>
<form id="login"><input id="key" type="password" placeholder="API key (Bearer)" autocomplete="off">
<button type="submit">Connect</button></form><span id="status">not connected</span></header>
<main>
<section><h2>Credit per channel (<span id="model">-</span>)</h2>
<svg id="credit-chart" width="100%" height="260" viewBox="0 0 560 260"></svg>
<div id="stats"></div></section>
<section><h2>Budget recommendation</h2>
<svg id="allocation-chart" width="100%" height="260" viewBox="0 0 560 260"></svg>
<div id="allocation-note"></div></section>
<section class="wide"><h2>Recent conversions</h2>
<table><thead><tr><th>conversion</th><th>time</th><th>value</th><th>path (credit)</th></tr>
</thead><tbody id="recent"></tbody></table></section>
</main>
<script>
"use strict";
const COLORS=["#3b6fd8","#e0823d","#3aa67a","#c94f7c","#8a63d2","#c9a227","#2ba3b8","#7a7f8c"];
const colorOf={};
function color(ch){if(!(ch in colorOf))colorOf[ch]=COLORS[Object.keys(colorOf).length%COLORS.length];return colorOf[ch];}
const NS="http://www.w3.org/2000/svg";
function el(tag,attrs,text){const e=document.createElementNS(NS,tag);for(const k in attrs)e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;return e;}
function bars(svg,rows,series){
  svg.replaceChildren();
  const max=Math.max(1e-12,...rows.flatMap(r=>series.map(s=>r[s.key])));
  const rowH=Math.min(40,240/Math.max(rows.length,1)),barH=(rowH-6)/series.length;
  rows.forEach((r,i)=>{
    const y=10+i*rowH;
    svg.appendChild(el("text",{x:0,y:y+rowH/2,"font-size":12,"dominant-baseline":"middle"},r.channel));
    series.forEach((s,j)=>{
      const w=Math.max(1,400*r[s.key]/max);
      svg.appendChild(el("rect",{x:110,y:y+j*barH,width:w,height:barH-1,fill:s.color||color(r.channel),"class":"bar","data-channel":r.channel}));
      svg.appendChild(el("text",{x:114+w,y:y+j*barH+barH/2,"font-size":11,"dominant-baseline":"middle"},r[s.key].toFixed(2)));
    });
  });
}
function render(s){
  document.getElementById("model").textContent=s.model;
  document.getElementById("stats").textContent=s.stats.events+" events, "+s.stats.touchpoints+" touchpoints, "+s.stats.conversions+" conversions";
  bars(document.getElementById("credit-chart"),s.credits,[{key:"conversions"}]);
  const rec=s.recommendation;
  if(rec){bars(document.getElementById("allocation-chart"),rec,[{key:"current_spend",color:"#9aa3b2"},{key:"recommended_spend",color:"#3aa67a"}]);
    document.getElementById("allocation-note").textContent="grey: current spend, green: recommended";}
  else document.getElementById("allocation-note").textContent="no allocation.csv configured (mixlens serve --allocation FILE)";
  const body=document.getElementById("recent");body.replaceChildren();
  for(const c of s.recent){
    const tr=document.createElement("tr");
    for(const t of [c.conversion_id,c.timestamp,c.value===null?"":c.value.toFixed(2)]){const td=document.createElement("td");td.textContent=t;tr.appendChild(td);}
    const td=document.createElement("td");
    if(!c.path.length)td.textContent="(no touch: baseline)";
    for(const p of c.path){const sp=document.createElement("span");sp.className="chip";sp.style.background=color(p.channel);sp.textContent=p.channel+" "+p.credit.toFixed(2);td.appendChild(sp);}
    tr.appendChild(td);body.appendChild(tr);
  }
  document.body.dataset.updates=String(Number(document.body.dataset.updates||0)+1);
}
async function connect(key){
  const status=document.getElementById("status");
  while(true){
    try{
      const res=await fetch("/v1/dashboard/stream",{headers:{Authorization:"Bearer "+key}});
      if(res.status===401){status.textContent="invalid API key";return;}
      if(!res.ok)throw new Error("HTTP "+res.status);
      status.textContent="live";
      const reader=res.body.getReader(),dec=new TextDecoder();let buf="";
      while(true){
        const {value,done}=await reader.read();if(done)break;
        buf+=dec.decode(value,{stream:true});let i;
        while((i=buf.indexOf("\\n\\n"))>=0){
          const frame=buf.slice(0,i);buf=buf.slice(i+2);
          const data=frame.split("\\n").filter(l=>l.startsWith("data: ")).map(l=>l.slice(6)).join("\\n");
          if(data)render(JSON.parse(data));
        }
      }
    }catch(e){status.textContent="reconnecting ("+e.message+")";}
    await new Promise(r=>setTimeout(r,2000));
  }
}
document.getElementById("login").addEventListener("submit",ev=>{
  ev.preventDefault();const key=document.getElementById("key").value.trim();
  sessionStorage.setItem("mixlens-key",key);connect(key);});
const saved=sessionStorage.getItem("mixlens-key");if(saved)connect(saved);
</script></body></html>
"""  # noqa: E501
"""The dashboard page: no external resources, charts drawn as inline SVG."""
