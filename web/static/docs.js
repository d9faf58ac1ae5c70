// Starts Swagger UI on the API page (kept out of the HTML: the CSP allows no inline script).
// The bundled Swagger UI 4 reads OpenAPI 3.0 documents; FastAPI writes 3.1, which it renders
// well enough once told the version it knows.
window.addEventListener("load", function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  if (!node || typeof window.SwaggerUIBundle !== "function") return;
  fetch(node.getAttribute("data-openapi"))
    .then(function (response) { return response.json(); })
    .then(function (spec) {
      if (/^3\.1/.test(spec.openapi || "")) spec.openapi = "3.0.3";
      window.SwaggerUIBundle({ spec: spec, domNode: node, deepLinking: true });
    });
});
