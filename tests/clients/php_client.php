<?php
// php_client.php - an ordinary php-curl program, run unmodified under the
// shim.  PHP loads curl.so with RTLD_DEEPBIND, so a plain symbol hook is
// never called: this is the case the GOT patching exists for.
// Usage: php php_client.php URL MODEL... ; the first model goes through
// curl_exec, all of them through one curl_multi_exec batch.
$url = $argv[1];
$models = array_slice($argv, 2);

function handle($url, $model) {
    $c = curl_init($url);
    curl_setopt($c, CURLOPT_POSTFIELDS, json_encode(["model" => $model, "messages" => []]));
    curl_setopt($c, CURLOPT_HTTPHEADER, ["Authorization: Bearer sk-php-app", "Content-Type: application/json"]);
    curl_setopt($c, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($c, CURLOPT_TIMEOUT, 10);
    return $c;
}

function model_of($out) {
    $j = json_decode($out, true);
    return is_array($j) && isset($j["model"]) ? $j["model"] : "-";
}

$c = handle($url, $models[0]);
$out = curl_exec($c);
echo "exec ", $out === false ? "error " . curl_errno($c) . " " . curl_error($c) : model_of($out), "\n";

$m = curl_multi_init();
$hs = [];
foreach ($models as $model) {
    $h = handle($url, $model);
    curl_multi_add_handle($m, $h);
    $hs[] = [$h, $model];
}
do {
    $st = curl_multi_exec($m, $running);
    if ($running) curl_multi_select($m, 1.0);
} while ($running && $st == CURLM_OK);
$results = [];
while ($info = curl_multi_info_read($m)) {
    $results[(int)$info["handle"]] = $info["result"];
}
foreach ($hs as [$h, $model]) {
    $r = $results[(int)$h] ?? -1;
    echo "multi $model ", $r == 0 ? model_of(curl_multi_getcontent($h)) : "error $r " . curl_error($h), "\n";
    curl_multi_remove_handle($m, $h);
}
