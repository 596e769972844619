// The notes app's service worker: it keeps the app shell (index.html and every file of the
// build) in a cache named after the build, so that after one visit the app opens with the
// network off. vite.config.ts emits it as sw.js with `self.__PRECACHE = { version, files }`
// in front. Sync requests (/cairn) always go to the network; the data lives in IndexedDB.
const { version, files } = self.__PRECACHE
const CACHE = `cairn-notes-${version}`
const scope = new URL(self.registration.scope)
const shell = new URL('index.html', scope).href

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(files.map((f) => new URL(f, scope).href)))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  // Drops the caches of older builds, then takes over the pages already open.
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('cairn-notes-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  const url = new URL(request.url)
  if (request.method !== 'GET' || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return
  if (url.pathname.startsWith(new URL('cairn', scope).pathname)) return
  // A page load (whatever its query) gets the cached shell; a file of the build, its cached
  // copy. Anything else, or a cache miss, goes to the network. `ignoreVary`: the server may
  // answer `Vary: Origin`, and a module script's request carries an Origin header that the
  // install-time request had not.
  const options = { cacheName: CACHE, ignoreVary: true }
  const cached = request.mode === 'navigate' ? caches.match(shell, options) : caches.match(request, options)
  event.respondWith(cached.then((response) => response ?? fetch(request)))
})
