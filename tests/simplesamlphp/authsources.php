<?php
/*
 * Authentication sources of samlgate's test IdP: a username/password form with fixed users.
 * The attributes are what a directory would release; the tests assert on them after the
 * gateway has mapped them to identity headers.
 */

$config = [
    // The admin pages (password from config.php); not used by the tests.
    'admin' => ['core:AdminPassword'],

    'example-userpass' => [
        'exampleauth:UserPass',

        // An administrator whose display name needs UTF-8 all the way to the backend.
        'student:studentpass' => [
            'uid' => ['student'],
            'mail' => ['student@example.org'],
            'displayName' => ['José Müller'],
            'givenName' => ['José'],
            'sn' => ['Müller'],
            'eduPersonAffiliation' => ['member', 'student'],
            'groups' => ['Admins', 'Students'],
        ],

        // Someone no access rule matches: the mapping's default access group applies.
        'employee:employeepass' => [
            'uid' => ['employee'],
            'mail' => ['employee@example.org'],
            'displayName' => ['Erika Mustermann'],
            'eduPersonAffiliation' => ['member', 'employee'],
            'groups' => ['Staff'],
        ],
    ],
];
