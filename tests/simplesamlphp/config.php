<?php
/*
 * SimpleSAMLphp 1.19 (Debian) configuration for samlgate's test IdP.
 *
 * Written into a temporary directory by `scripts/simplesamlphp setup`, which replaces the
 * @...@ placeholders; SimpleSAMLphp finds it through SIMPLESAMLPHP_CONFIG_DIR. Every key not
 * set here keeps SimpleSAMLphp's built-in default (not Debian's /etc/simplesamlphp, so an
 * admin's changes there cannot change what the tests see).
 */

$config = [
    // The IdP is served by PHP's built-in server at the root of this URL.
    'baseurlpath' => '@BASEURL@',

    // Everything the IdP writes stays in the temporary directory.
    'certdir' => '@DIR@/cert/',
    'metadatadir' => '@DIR@/metadata/',
    'loggingdir' => '@DIR@/log/',
    'datadir' => '@DIR@/data/',
    'tempdir' => '@DIR@/tmp/',
    'session.phpsession.savepath' => '@DIR@/sessions/',

    // Fresh for every setup: a known salt would make NameIDs and tokens guessable.
    'secretsalt' => '@SECRETSALT@',
    'auth.adminpassword' => '@ADMINPASSWORD@',
    // Loopback services on any port (the SP under test) may be a ReturnTo or RelayState URL.
    'trusted.url.domains' => ['127\.0\.0\.1(:[0-9]+)?'],
    'trusted.url.regex' => true,

    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,

    'technicalcontact_name' => 'samlgate tests',
    'technicalcontact_email' => 'samlgate-tests@example.org',
    'timezone' => 'UTC',

    'enable.saml20-idp' => true,
    'module.enable' => [
        'core' => true,
        'saml' => true,
        'admin' => true,
        'exampleauth' => true,
    ],

    // Plain HTTP on loopback: a Secure cookie would never come back, and SameSite=None needs
    // Secure. The login form posts to its own origin, so Lax is enough.
    'session.cookie.secure' => false,
    'session.cookie.samesite' => 'Lax',
    'language.cookie.secure' => false,
    'language.cookie.samesite' => 'Lax',

    // Same default as samlgate (180 s), for the AuthnRequests it receives.
    'assertion.allowed_clock_skew' => 180,

    // Errors on the page and every SAML message in the log: this IdP exists to be debugged.
    'showerrors' => true,
    'errorreporting' => false,
    'production' => false,
    'debug' => ['saml' => true, 'backtraces' => true, 'validatexml' => false],
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'statistics.out' => [],

    // No attribute renaming: the SP sees the names authsources.php gives (uid, mail, ...).
    'authproc.idp' => [],
];
