// GET /embed.js: the few lines a site pastes to show an organization's published content.
//
//   <div data-strive-org="acme" data-strive-slug="introducing-client-portal"></div>
//   <div data-strive-org="acme" data-strive-type="blog_post" data-strive-limit="5"></div>
//   <script src="https://api.example.com/embed.js" async></script>
//
// An item is the server's `?format=html` fragment, sanitised when it was written; a list is built
// from the JSON list with textContent only. No dependencies, no globals, no cookies.
export const EMBED_SCRIPT = `(function () {
  var script = document.currentScript;
  var base = new URL(script ? script.src : location.href).origin;
  function api(org, path) { return base + '/v1/public/' + encodeURIComponent(org) + path; }
  function show(el, org) {
    var slug = el.getAttribute('data-strive-slug');
    if (slug) {
      return fetch(api(org, '/content/' + encodeURIComponent(slug) + '?format=html'))
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) { el.innerHTML = html; });
    }
    var query = new URLSearchParams();
    var type = el.getAttribute('data-strive-type');
    if (type) query.set('type', type);
    query.set('limit', el.getAttribute('data-strive-limit') || '10');
    return fetch(api(org, '/content?' + query))
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (page) {
        var list = document.createElement('ul');
        list.className = 'strive-content-list';
        page.data.forEach(function (item) {
          var li = document.createElement('li');
          var title = document.createElement('strong');
          title.textContent = item.title;
          li.appendChild(title);
          if (item.excerpt) {
            var excerpt = document.createElement('p');
            excerpt.textContent = item.excerpt;
            li.appendChild(excerpt);
          }
          li.setAttribute('data-strive-slug', item.slug);
          list.appendChild(li);
        });
        el.replaceChildren(list);
      });
  }
  document.querySelectorAll('[data-strive-org]').forEach(function (el) {
    show(el, el.getAttribute('data-strive-org')).catch(function () { el.setAttribute('data-strive-error', ''); });
  });
})();
`;
