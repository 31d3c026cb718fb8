<?php
/*
 * Usage: php sp-remote-from-xml.php SP_METADATA.xml [OPTIONS_JSON]
 *
 * Prints saml20-sp-remote.php entries for the SPs in SP_METADATA.xml, as SimpleSAMLphp's admin
 * metadata converter does (SAMLParser::getMetadata20SP), with OPTIONS_JSON (an object of
 * sp-remote settings, e.g. {"simplesaml.nameidattribute": "uid"}) merged over each entry.
 * Exits non-zero, with the reason on stderr, when SimpleSAMLphp cannot read the metadata.
 */

require_once '/usr/share/simplesamlphp/lib/_autoload.php';

use SimpleSAML\Metadata\SAMLParser;

if ($argc < 2 || $argc > 3) {
    fwrite(STDERR, "usage: php sp-remote-from-xml.php SP_METADATA.xml [OPTIONS_JSON]\n");
    exit(2);
}
$xml = file_get_contents($argv[1]);
if ($xml === false) {
    fwrite(STDERR, "cannot read {$argv[1]}\n");
    exit(1);
}
$options = [];
if ($argc === 3) {
    $options = json_decode($argv[2], true);
    if (!is_array($options)) {
        fwrite(STDERR, "OPTIONS_JSON is not a JSON object: {$argv[2]}\n");
        exit(2);
    }
}

try {
    $entities = SAMLParser::parseDescriptorsString(trim($xml));
} catch (Exception $e) {
    fwrite(STDERR, "SimpleSAMLphp refused the SP metadata: " . $e->getMessage() . "\n");
    exit(1);
}

$count = 0;
foreach ($entities as $entityId => $entity) {
    $sp = $entity->getMetadata20SP();
    if ($sp === null) {
        continue;
    }
    // As the converter does: the DOM copy is unused and an expiry breaks long-lived tests.
    unset($sp['entityDescriptor'], $sp['expire']);
    $sp = array_merge($sp, $options);
    echo '$metadata[' . var_export($entityId, true) . '] = ' . var_export($sp, true) . ";\n";
    $count++;
}
if ($count === 0) {
    fwrite(STDERR, "no SAML 2.0 SPSSODescriptor in {$argv[1]}\n");
    exit(1);
}
