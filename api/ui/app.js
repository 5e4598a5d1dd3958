// The delivery log page: it calls the admin API's JSON routes with the token the user
// enters (kept in sessionStorage), so it sees exactly what that token may see. Every
// value from the API reaches the page as text (textContent), never as markup.
'use strict';

(() => {
  const tokenKey = 'eventrouter.api_token';
  const $ = (sel) => document.querySelector(sel);
  let selected = null; // the subscription whose deliveries are shown
  let nextSubscriptions = null; // cursor of the next page of subscriptions
  let replayPoll = null;

  // el builds an element; string and number children become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function setStatus(text, kind) {
    const s = $('#status');
    s.textContent = text;
    s.className = kind || '';
  }

  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }

  function isoNow(offsetMs) {
    return new Date(Date.now() + (offsetMs || 0)).toISOString().replace(/\.\d+Z$/, 'Z');
  }

  // api calls one route with the bearer token; a problem+json answer becomes an Error
  // whose message names the route, the status, the detail and the fields.
  async function api(method, path, body) {
    const token = sessionStorage.getItem(tokenKey);
    if (!token) throw new Error('enter an API token first');
    const init = { method, headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const p = data || {};
      let msg = `${method} ${path}: ${res.status} ${p.title || res.statusText}`;
      if (p.detail) msg += ` — ${p.detail}`;
      if (Array.isArray(p.errors) && p.errors.length) {
        msg += ' (' + p.errors.map((e) => `${e.field}: ${e.message}`).join('; ') + ')';
      }
      throw new Error(msg);
    }
    return data;
  }

  const enc = encodeURIComponent;

  // health says how a subscription is doing from its state and its newest attempt.
  function health(sub, last) {
    if (!sub.enabled) {
      return { state: 'disabled', text: 'disabled' + (sub.disabled_reason ? ` (${sub.disabled_reason})` : ' by a user') };
    }
    if (!last) return { state: 'idle', text: 'no attempts yet' };
    if (last.reason === 'ok') {
      return { state: 'healthy', text: `healthy · last attempt ${last.status} at ${fmtTime(last.at)}` };
    }
    return { state: 'failing', text: `failing · last attempt ${outcome(last)} at ${fmtTime(last.at)}` };
  }

  function outcome(a) {
    return a.status ? `${a.status} ${a.reason}` : a.reason;
  }

  async function loadSubscriptions(more) {
    const tbody = $('#subscriptions tbody');
    if (!more) {
      tbody.replaceChildren();
      nextSubscriptions = null;
    }
    let path = '/v1/subscriptions?limit=100';
    if (more && nextSubscriptions) path += '&after=' + enc(nextSubscriptions);
    const page = await api('GET', path);
    nextSubscriptions = page.next;
    $('#more-subscriptions').hidden = !page.next;
    const lasts = await Promise.all(page.data.map((sub) =>
      api('GET', `/v1/subscriptions/${enc(sub.id)}/attempts?limit=1`)
        .then((r) => r.data[0] || null)
        .catch(() => null)));
    page.data.forEach((sub, i) => {
      const h = health(sub, lasts[i]);
      const open = el('button', { type: 'button', class: 'open' }, 'Deliveries');
      open.addEventListener('click', () => selectSubscription(sub));
      tbody.append(el('tr', { 'data-subscription': sub.id },
        el('td', null, el('code', null, sub.id), sub.description ? el('div', { class: 'muted' }, sub.description) : null),
        el('td', null, sub.account_id),
        el('td', { class: 'url' }, sub.url),
        el('td', null, (sub.events || []).join(', '), sub.filter ? el('div', { class: 'muted' }, 'filter: ' + sub.filter) : null),
        el('td', { class: 'health', 'data-health': h.state }, h.text),
        el('td', null, open)));
    });
    if (!tbody.children.length) {
      tbody.append(el('tr', null, el('td', { colspan: 6, class: 'muted' }, 'No subscriptions for this token.')));
    }
  }

  function selectSubscription(sub) {
    selected = sub;
    $('#deliveries-of').textContent = sub.id;
    $('#deliveries-section').hidden = false;
    $('#replay-form').elements.subscription_id.value = sub.id;
    for (const tr of document.querySelectorAll('#subscriptions tr[data-subscription]')) {
      tr.classList.toggle('selected', tr.dataset.subscription === sub.id);
    }
    loadDeliveries().catch((e) => setStatus(e.message, 'error'));
  }

  async function loadDeliveries() {
    if (!selected) return;
    const res = await api('GET', `/v1/subscriptions/${enc(selected.id)}/deliveries?limit=20`);
    const tbody = $('#deliveries tbody');
    tbody.replaceChildren();
    for (const d of res.data) {
      const last = d.attempts[d.attempts.length - 1];
      const detail = attemptsRow(d);
      const toggle = el('button', { type: 'button', class: 'toggle', 'aria-expanded': 'false' }, `${d.attempts.length} ▸`);
      toggle.addEventListener('click', () => {
        detail.hidden = !detail.hidden;
        toggle.setAttribute('aria-expanded', String(!detail.hidden));
        toggle.textContent = `${d.attempts.length} ${detail.hidden ? '▸' : '▾'}`;
      });
      const redeliver = el('button', { type: 'button', class: 'redeliver' }, 'Redeliver');
      redeliver.addEventListener('click', () => redeliverOne(d, redeliver));
      tbody.append(el('tr', { 'data-delivery': d.id },
        el('td', null, el('code', null, d.id)),
        el('td', null, d.event_name || '', el('div', { class: 'muted' }, d.event_id)),
        el('td', { class: 'state', 'data-state': d.state }, d.state),
        el('td', null, toggle),
        el('td', null, last ? `${outcome(last)} · ${fmtTime(last.at)} · ${last.latency_ms} ms` : ''),
        el('td', null, redeliver)), detail);
    }
    if (!res.data.length) {
      tbody.append(el('tr', null, el('td', { colspan: 6, class: 'muted' }, 'No deliveries in the attempt log yet.')));
    }
    const n = res.data.length;
    setStatus(`${n} recent ${n === 1 ? 'delivery' : 'deliveries'} of ${selected.id} (as of ${fmtTime(new Date().toISOString())}).`);
  }

  // attemptsRow is the hidden row under a delivery listing its attempts, oldest first,
  // with the endpoint's response excerpt and the error.
  function attemptsRow(d) {
    const rows = d.attempts.map((a) => el('tr', { class: 'attempt' },
      el('td', null, a.attempt),
      el('td', null, fmtTime(a.at)),
      el('td', null, `${a.latency_ms} ms`),
      el('td', { class: a.reason === 'ok' ? 'ok' : 'bad' }, outcome(a), a.final ? ' (final)' : ''),
      el('td', null, a.response_body ? el('pre', { class: 'response' }, a.response_body) : el('span', { class: 'muted' }, 'empty')),
      el('td', null, a.error ? el('pre', { class: 'error' }, a.error) : '')));
    const table = el('table', { class: 'attempts' },
      el('thead', null, el('tr', null, ...['#', 'At', 'Latency', 'Outcome', 'Response (first 1 KiB)', 'Error'].map((h) => el('th', null, h)))),
      el('tbody', null, ...rows));
    return el('tr', { class: 'attempts-row', 'data-attempts-of': d.id, hidden: true }, el('td', { colspan: 6 }, table));
  }

  async function redeliverOne(d, button) {
    button.disabled = true;
    try {
      await api('POST', `/v1/deliveries/${enc(d.id)}/redeliver`);
      button.textContent = 'Queued';
      setStatus(`Redelivery of ${d.id} queued (same webhook-id); refresh to see its attempt.`, 'ok');
    } catch (e) {
      button.disabled = false;
      setStatus(e.message, 'error');
    }
  }

  async function startReplay(form) {
    const f = form.elements;
    const body = {
      from: f.from.value.trim(),
      to: f.to.value.trim(),
      dry_run: f.dry_run.checked,
    };
    if (f.subscription_id.value.trim()) body.subscription_id = f.subscription_id.value.trim();
    const evs = f.events.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (evs.length) body.events = evs;
    const out = $('#replay-result');
    out.className = '';
    out.removeAttribute('data-state');
    out.removeAttribute('data-deliveries');
    out.textContent = 'Starting…';
    if (replayPoll) clearTimeout(replayPoll);
    let job;
    try {
      job = await api('POST', '/v1/replays', body);
    } catch (e) {
      out.className = 'error';
      out.textContent = e.message;
      return;
    }
    showReplay(job);
  }

  function showReplay(job) {
    const out = $('#replay-result');
    out.dataset.state = job.state;
    const skipped = Object.values(job.records_skipped || {}).reduce((a, b) => a + b, 0);
    const what = job.spec && job.spec.dry_run ? 'would be delivered (dry run: nothing sent)' : 'queued';
    if (job.state === 'done') {
      out.dataset.deliveries = String(job.deliveries);
      out.className = 'ok';
      out.textContent = `Replay ${job.id} done: ${job.deliveries} ${job.deliveries === 1 ? 'delivery' : 'deliveries'} ${what}; ` +
        `${job.records_read} records read, ${skipped} skipped.`;
      return;
    }
    if (job.state === 'failed' || job.state === 'stopped') {
      out.className = 'error';
      out.textContent = `Replay ${job.id} ${job.state}${job.error ? ': ' + job.error : ''}.`;
      return;
    }
    out.textContent = `Replay ${job.id} ${job.state}: ${Math.round((job.progress || 0) * 100)}% read, ${job.deliveries} deliveries so far…`;
    replayPoll = setTimeout(() => {
      api('GET', `/v1/replays/${enc(job.id)}`).then(showReplay).catch((e) => {
        out.className = 'error';
        out.textContent = e.message;
      });
    }, 1000);
  }

  // showTokenState says in the (emptied) token field whether this tab holds a token.
  function showTokenState() {
    $('#token').placeholder = sessionStorage.getItem(tokenKey) ? 'token set for this tab' : 'admin or account token';
  }

  function refreshAll() {
    setStatus('Loading…');
    loadSubscriptions(false)
      .then(() => (selected ? loadDeliveries() : setStatus('Choose a subscription to see its recent deliveries.')))
      .catch((e) => setStatus(e.message, 'error'));
  }

  document.addEventListener('DOMContentLoaded', () => {
    const rf = $('#replay-form').elements;
    rf.from.value = isoNow(-3600 * 1000);
    rf.to.value = isoNow(0);

    $('#token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = $('#token').value.trim();
      if (!v) {
        setStatus('Enter an API token.', 'error');
        return;
      }
      sessionStorage.setItem(tokenKey, v);
      $('#token').value = '';
      showTokenState();
      refreshAll();
    });
    $('#forget').addEventListener('click', () => {
      sessionStorage.removeItem(tokenKey);
      showTokenState();
      selected = null;
      $('#subscriptions tbody').replaceChildren();
      $('#deliveries tbody').replaceChildren();
      $('#deliveries-section').hidden = true;
      setStatus('Token forgotten.');
    });
    $('#more-subscriptions').addEventListener('click', () => {
      loadSubscriptions(true).catch((e) => setStatus(e.message, 'error'));
    });
    $('#refresh').addEventListener('click', () => {
      loadDeliveries().catch((e) => setStatus(e.message, 'error'));
    });
    $('#replay-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      startReplay(ev.target);
    });
    showTokenState();
    if (sessionStorage.getItem(tokenKey)) refreshAll();
  });
})();
