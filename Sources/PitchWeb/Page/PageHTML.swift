extension Page {
    /// `/`: the page. Element ids are stable (tests and users' own automation rely on them).
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sales pitches · swift-gpt2</title>
<link rel="stylesheet" href="/page.css">
<script src="/page.js" defer></script>
</head>
<body>
<header>
  <h1>Sales pitches</h1>
  <p id="model-line" class="quiet">Loading…</p>
  <button id="logout" type="button" hidden>Sign out</button>
</header>

<section id="login-section" hidden aria-labelledby="login-title">
  <h2 id="login-title">API key</h2>
  <form id="login-form">
    <label for="api-key">This server needs its API key</label>
    <input id="api-key" type="password" autocomplete="current-password" required>
    <button id="login" type="submit">Sign in</button>
    <p id="login-error" class="error" role="alert"></p>
  </form>
</section>

<main id="app" hidden>
<section aria-labelledby="one-title">
  <h2 id="one-title">One customer</h2>
  <form id="customer-form" novalidate>
    <div class="grid">
      <div><label for="name">Name <span class="required" aria-hidden="true">*</span></label><input id="name" name="name" required autocomplete="off"></div>
      <div><label for="age">Age</label><input id="age" name="age" inputmode="numeric" autocomplete="off"></div>
      <div><label for="gender">Gender</label>
        <select id="gender" name="gender"><option value=""></option><option value="female">female · 女</option><option value="male">male · 男</option></select></div>
      <div><label for="job">Job</label><input id="job" name="job" autocomplete="off"></div>
      <div class="wide"><label for="interests">Interests</label><input id="interests" name="interests" placeholder="yoga, travel" autocomplete="off"></div>
      <div class="wide"><label for="behavior">Recent behaviour</label><input id="behavior" name="behavior" placeholder="viewed high-end cameras" autocomplete="off"></div>
      <div class="wide"><label for="product">Product <span class="required" aria-hidden="true">*</span></label><input id="product" name="product" required autocomplete="off"></div>
      <div><label for="industry">Industry</label><input id="industry" name="industry" placeholder="e-commerce" autocomplete="off"></div>
      <div><label for="language">Language</label>
        <select id="language" name="language"><option value="">the customer's (自动)</option><option value="en">English</option><option value="zh">中文</option></select></div>
    </div>
    <fieldset>
      <legend>Settings (also for lists)</legend>
      <div class="grid settings">
        <div><label for="temperature">Temperature</label><input id="temperature" type="number" min="0" max="2" step="0.1" value="0.7"></div>
        <div><label for="max-tokens">Max tokens</label><input id="max-tokens" type="number" min="1" step="1" placeholder="150 en · 300 zh"></div>
        <div><label for="variants">Variants</label><input id="variants" type="number" min="1" max="16" step="1" value="1"></div>
        <div><label for="seed">Seed</label><input id="seed" type="number" min="0" step="1" placeholder="random"></div>
      </div>
    </fieldset>
    <div class="actions">
      <button id="write" type="submit" class="primary">Write pitch</button>
      <span id="form-error" class="error" role="alert"></span>
    </div>
  </form>
  <div class="output">
    <div id="pitch" aria-live="polite" aria-label="Pitch"></div>
    <div id="checks" aria-label="Checks"></div>
  </div>
</section>

<section aria-labelledby="list-title">
  <h2 id="list-title">A customer list</h2>
  <p class="quiet">A CSV with a header row (id, name, age, gender, job, interests, behavior, product, industry) or JSON Lines.
    Choosing the file starts it; customers already written are skipped. Up to <span id="max-upload">4 MB</span>.</p>
  <div class="actions">
    <label for="customers" class="button">Choose a customer list…</label>
    <input id="customers" type="file" accept=".csv,.jsonl,.ndjson,text/csv" class="visually-hidden">
    <button id="stop" type="button" hidden>Stop</button>
    <span id="list-error" class="error" role="alert"></span>
  </div>
  <div id="list-status" hidden>
    <progress id="progress" max="1" value="0"></progress>
    <p id="progress-text" aria-live="polite"></p>
    <table id="rejected" hidden>
      <caption>Rows not written</caption>
      <thead><tr><th scope="col">Line</th><th scope="col">Id</th><th scope="col">Reason</th></tr></thead>
      <tbody></tbody>
    </table>
  </div>
</section>

<section aria-labelledby="review-title">
  <h2 id="review-title">Review</h2>
  <div class="actions">
    <span id="review-counts" class="quiet"></span>
    <span class="spacer"></span>
    <button id="download-pitches" type="button">Pitches (CSV)</button>
    <button id="download-feedback" type="button">Feedback (JSONL)</button>
    <button id="download-dataset" type="button">Fine-tuning data (JSONL)</button>
  </div>
  <p id="review-error" class="error" role="alert"></p>
  <div class="table-wrap">
  <table id="results">
    <thead><tr><th scope="col">Customer</th><th scope="col">Profile</th><th scope="col">Pitch</th><th scope="col">Decision</th><th scope="col">Review</th></tr></thead>
    <tbody></tbody>
  </table>
  </div>
  <p id="no-results" class="quiet">No pitches yet.</p>
</section>
</main>
</body>
</html>
"""#
}
