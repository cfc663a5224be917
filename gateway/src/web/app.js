// The researcher's page: submit a query, follow each node's answer as it
// arrives (Server-Sent Events), read the merged table with its intervals and
// guaranteed ranges, and what the answer cost at each node.
import { budgetRows, cellTitle, formatCell, formatLevel } from './format.js';

const $ = (id) => document.getElementById(id);

// The example queries are the schemas package's fixtures, which the gateway
// serves next to this page; the menu fills in when they arrive.
const examples = fetch('examples.json')
  .then((res) => (res.ok ? res.json() : Promise.reject(new Error(`HTTP ${res.status}`))))
  .catch(() => {
    say('The example queries could not be loaded; paste a query instead.', true);
    return [];
  });
void examples.then((list) => {
  for (const { id, title, description } of list) {
    const option = document.createElement('option');
    option.value = id;
    option.textContent = title;
    option.title = description;
    $('example').append(option);
  }
});
$('example').addEventListener('change', async () => {
  const id = $('example').value;
  const example = (await examples).find((e) => e.id === id);
  if (example) $('query').value = JSON.stringify(example.query, null, 2);
});
// The token stays in this page's memory (the input) only: never in web
// storage, where any script on the origin could read it (threat 56).
function headers(extra = {}) {
  const h = { authorization: `Bearer ${$('token').value.trim()}`, ...extra };
  if ($('project').value.trim()) h['x-tessera-project'] = $('project').value.trim();
  return h;
}

function say(text, bad = false) {
  $('status').textContent = text;
  $('status').className = bad ? 'bad' : '';
}

const keyId = (key) => JSON.stringify([key.gender, key.ageBand, key.deceased, key.codes]);

function fillCell(td, cell, confidence) {
  td.textContent = formatCell(cell, confidence);
  td.title = cellTitle(cell, confidence);
}

function renderResult(result) {
  const ok = result.nodes.filter((n) => n.status === 'ok' && n.result);
  const dims = Object.keys(result.strata[0]?.key ?? {});
  const table = document.createElement('table');
  table.id = 'result-table';
  const head = table.createTHead().insertRow();
  for (const label of [...(dims.length ? dims : ['']), 'merged', ...ok.map((n) => n.node)]) {
    const th = document.createElement('th');
    th.textContent = label;
    head.append(th);
  }
  const body = table.createTBody();
  const addRow = (labels, merged, perNode) => {
    const row = body.insertRow();
    for (const l of labels) row.insertCell().textContent = l;
    const m = row.insertCell();
    m.className = 'merged';
    fillCell(m, merged, result.confidence);
    perNode.forEach((cell, i) =>
      fillCell(row.insertCell(), cell, ok[i].result.disclosure.confidence),
    );
  };
  addRow(
    dims.length ? dims.map((_, i) => (i === 0 ? 'total' : '')) : ['total'],
    result.total,
    ok.map((n) => n.result.total),
  );
  for (const s of result.strata) {
    const id = keyId(s.key);
    addRow(
      dims.map((d) => s.key[d]),
      s.cell,
      ok.map((n) => n.result.strata.find((own) => keyId(own.key) === id)?.cell),
    );
  }
  $('result').replaceChildren(table);
  if (result.confidence !== undefined) {
    const p = document.createElement('p');
    p.className = 'hint';
    p.id = 'result-level';
    p.textContent = `Merged intervals hold with probability at least ${formatLevel(result.confidence)} (the nodes' levels combined); node intervals at each node's own level. Hover over a figure for its guaranteed range.`;
    $('result').append(p);
  }
  if (!result.complete) {
    const p = document.createElement('p');
    p.className = 'bad';
    p.textContent = `Incomplete: ${result.nodes
      .filter((n) => n.status !== 'ok')
      .map((n) => `${n.node} ${n.status}${n.code ? ` (${n.code})` : ''}`)
      .join(', ')}`;
    $('result').append(p);
  }
  renderBudget(result);
}

function renderBudget(result) {
  const rows = budgetRows(result);
  if (rows.length === 0) {
    $('budget').replaceChildren();
    return;
  }
  const table = document.createElement('table');
  table.id = 'budget-table';
  const head = table.createTHead().insertRow();
  for (const label of ['Node', 'Cost (ε)', 'Project: left', 'You: left', 'Period']) {
    const th = document.createElement('th');
    th.textContent = label;
    head.append(th);
  }
  const body = table.createTBody();
  for (const r of rows) {
    const row = body.insertRow();
    for (const value of [r.node, r.cost, r.project, r.researcher, r.period]) {
      row.insertCell().textContent = value;
    }
  }
  const caption = table.createCaption();
  caption.textContent =
    'What this answer cost at each node, and what is left of the project’s and your budget there. Asking the same query again on the same data costs nothing.';
  $('budget').replaceChildren(table);
}

function nodeLine(outcome) {
  const li = document.createElement('li');
  li.className = outcome.status === 'ok' ? 'ok' : 'bad';
  li.textContent = `${outcome.node}: ${outcome.status}${outcome.code ? ` (${outcome.code})` : ''}${outcome.elapsedMs !== undefined ? `, ${Math.round(outcome.elapsedMs)} ms` : ''}`;
  $('node-progress').append(li);
}

let currentJob;

async function download(accept, filename) {
  const res = await fetch(`/v1/queries/${currentJob}`, { headers: headers({ accept }) });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  URL.revokeObjectURL(url);
}
$('csv').addEventListener('click', () => download('text/csv', `tessera-${currentJob}.csv`));
$('fhir').addEventListener('click', () =>
  download('application/fhir+json', `tessera-${currentJob}.json`),
);

// EventSource cannot send an Authorization header, so the stream is read with fetch.
async function follow(id) {
  const res = await fetch(`/v1/queries/${id}/events`, {
    headers: headers({ accept: 'text/event-stream' }),
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!event || !data) continue;
      const payload = JSON.parse(data);
      if (event === 'node') nodeLine(payload);
      if (event === 'result') {
        if (payload.result) {
          renderResult(payload.result);
          $('downloads').hidden = false;
          say(
            `Done: ${payload.result.complete ? 'all nodes answered' : 'some nodes did not answer'}.`,
          );
        } else {
          say(`Query ${payload.status}${payload.error ? `: ${payload.error}` : ''}.`, true);
        }
        return;
      }
    }
  }
}

$('run').addEventListener('click', async () => {
  $('node-progress').replaceChildren();
  $('result').replaceChildren();
  $('budget').replaceChildren();
  $('downloads').hidden = true;
  let body;
  try {
    body = JSON.stringify(JSON.parse($('query').value));
  } catch {
    say('The query is not valid JSON.', true);
    return;
  }
  say('Submitting…');
  const res = await fetch('/v1/queries', {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json' }),
    body,
  });
  const answer = await res.json();
  if (!res.ok) {
    say(
      `${answer.title}${answer.detail ? `: ${answer.detail}` : ''}${answer.pointer ? ` (at ${answer.pointer})` : ''} [${answer.code}]`,
      true,
    );
    return;
  }
  currentJob = answer.id;
  say(`Query ${answer.id} ${answer.status}; waiting for the nodes…`);
  await follow(answer.id);
});

$('catalogue-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const params = new URLSearchParams();
  if ($('cat-code').value.trim()) params.set('code', $('cat-code').value.trim());
  if ($('cat-q').value.trim()) params.set('q', $('cat-q').value.trim());
  const res = await fetch(`/v1/catalogue?${params}`);
  const { entries } = await res.json();
  const tbody = $('catalogue').tBodies[0];
  tbody.replaceChildren();
  for (const e of entries) {
    const row = tbody.insertRow();
    row.insertCell().textContent = e.node;
    row.insertCell().textContent = e.title;
    row.insertCell().textContent = String(e.numberOfUniqueIndividuals);
    row.insertCell().textContent = e.temporalCoverage
      ? `${e.temporalCoverage.start}–${e.temporalCoverage.end}`
      : '';
  }
});
