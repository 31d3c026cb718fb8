<?php
/*
 * Service providers this IdP knows. `scripts/simplesamlphp add-sp` appends one entry per SP,
 * converted from the SP's own metadata XML by SimpleSAMLphp's SAMLParser (the same code as
 * the admin "XML to SimpleSAMLphp metadata converter").
 */

$metadata = [];
