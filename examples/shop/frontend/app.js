// The shop's frontend reads its API URL from env.json, which the hosting step writes
// from the backend stack's outputs (API_URL).
async function main() {
  const env = await (await fetch("env.json")).json();
  const status = document.getElementById("status");
  if (!status) return;
  const res = await fetch(env.API_URL + "/content");
  const data = await res.json();
  status.textContent = data.articles.length + " article(s) from " + env.API_URL;
}
main();
