module paddock/tools/store_fixture

go 1.19
